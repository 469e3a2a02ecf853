"""Local pretrained weights: where they live, how they are verified, and nothing downloaded.

Every official metric backend declares the files it needs as `WeightFile`s. Files are looked up
in `$HARMONY_BENCH_WEIGHTS` (default `~/.cache/harmony-bench/weights`) and verified before use:
- a pinned sha256 (from the publisher's download URL or git-LFS pointer) must match exactly;
- a file with no full public hash but a hash prefix in its name (torchvision's and pyiqa's
  `name-<sha256 prefix>.pth`) must match that prefix, as torchvision's `check_hash` does, and
  then pass its format check (size range, strict keys and shapes);
- a file with neither must pass its format check.
A file that fails is never loaded and never reported runnable.

`$HARMONY_BENCH_MANIFEST` may point to a JSON file {file name: sha256} that overrides expected
hashes: tests use it to run the official code paths on random-weight files, and every stored
number carries the hash actually loaded, so such numbers never pass as the paper's.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class HubFile:
    """Where a file sits on a Hugging Face Hub repository: fetched from
    `<endpoint>/<repo>/resolve/<revision>/<path>` (harmony_bench.fetch)."""

    repo: str  # "owner/name"
    revision: str  # a commit hash where one is pinned, else a branch (the sha256 still pins the bytes)
    path: str  # inside the repository


@dataclass(frozen=True)
class WeightFile:
    name: str  # file name inside the weights folder, may include a sub-folder ("siglip/model.safetensors")
    sha256: str | None  # None: no full public hash; then hash_prefix and/or check_format verify it
    source: str  # where a user downloads it
    licence: str
    size_bytes: int | None = None
    note: str = ""
    hash_source: str = ""  # where the pinned sha256 was read (publisher URL, LFS pointer, ...)
    hash_prefix: str | None = None  # leading hex digits of the sha256 that the file name carries
    size_range: tuple[int, int] | None = None  # accepted byte sizes when no full hash is pinned
    check_format: Callable[[Path], None] | None = None  # raises ValueError for a malformed file
    url: str = ""  # direct download URL off the Hub; "" where the publisher offers only a page
    hub: HubFile | None = None  # Hub files: repository, revision and path
    size_estimate: int | None = None  # bytes, where no exact size is published (free-space check)

    def verification(self) -> str:
        """How a present file is checked, in one line (for `harmony-bench weights`)."""
        if self.sha256:
            return f"sha256 {self.sha256}" + (f" (from {self.hash_source})" if self.hash_source else "")
        checks = []
        if self.hash_prefix:
            checks.append(f"sha256 prefix {self.hash_prefix} from the file name (torchvision check_hash)")
        if self.size_range:
            checks.append(f"size {self.size_range[0]:,}-{self.size_range[1]:,} bytes")
        if self.check_format:
            checks.append("format (strict keys and shapes)")
        return " + ".join(checks) or "not pinned (hash recorded at use)"


class WeightsMissing(FileNotFoundError):
    def __init__(self, wf: WeightFile, folder: Path):
        self.weight_file = wf
        super().__init__(f"weights missing: {wf.name} (expected in {folder}; get it from {wf.source})")


class WeightsMismatch(ValueError):
    pass


def weights_dir() -> Path:
    env = os.environ.get("HARMONY_BENCH_WEIGHTS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "harmony-bench" / "weights"


# Stamped into a row's weights field when an expected hash came from $HARMONY_BENCH_MANIFEST.
OVERRIDE_MARK = "manifest-override"


def expected_sha256(wf: WeightFile) -> str | None:
    override = os.environ.get("HARMONY_BENCH_MANIFEST")
    if override:
        table = json.loads(Path(override).read_text())
        if wf.name in table:
            return table[wf.name]
    return wf.sha256


_HASH_CACHE: dict[tuple[str, int, int], str] = {}
# Hashes of large files survive between commands here, keyed by path, size and mtime, so that
# `harmony-bench metrics` does not re-read gigabytes each time; any rewrite changes the key.
CACHE_FILE = ".sha256-cache.json"


def _disk_cache() -> tuple[Path, dict]:
    path = weights_dir() / CACHE_FILE
    try:
        return path, json.loads(path.read_text())
    except (OSError, ValueError):
        return path, {}


def sha256_of(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) in memory and in the weights folder."""
    st = path.stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key in _HASH_CACHE:
        return _HASH_CACHE[key]
    cache_path, disk = _disk_cache()
    stored = disk.get(key[0])
    if stored and stored[:2] == [st.st_size, st.st_mtime_ns]:
        _HASH_CACHE[key] = stored[2]
        return stored[2]
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    _remember(key, h.hexdigest(), cache_path, disk)
    return _HASH_CACHE[key]


def _remember(key: tuple[str, int, int], sha: str, cache_path: Path, disk: dict) -> None:
    _HASH_CACHE[key] = sha
    if key[1] >= 1 << 20 and cache_path.parent.is_dir():
        disk[key[0]] = [key[1], key[2], sha]
        try:
            cache_path.write_text(json.dumps(disk))
        except OSError:  # a read-only weights folder: hash again next time
            pass


def move_hashed(src: Path, dst: Path) -> None:
    """os.replace(src, dst) (atomic within one file system), carrying src's memoised sha256 over
    to dst: a rename keeps the bytes, size and mtime, so a fetched file is not hashed again."""
    st = src.stat()
    old = (str(src.resolve()), st.st_size, st.st_mtime_ns)
    os.replace(src, dst)
    sha = _HASH_CACHE.pop(old, None)
    cache_path, disk = _disk_cache()
    disk.pop(old[0], None)
    if sha is not None:
        _remember((str(dst.resolve()), st.st_size, st.st_mtime_ns), sha, cache_path, disk)


def locate(wf: WeightFile) -> Path:
    """Path of a present file (or folder) without hashing it; raises WeightsMissing."""
    path = weights_dir() / wf.name
    if not path.exists():
        raise WeightsMissing(wf, weights_dir())
    return path


def verify(wf: WeightFile, path: Path) -> str:
    """Check a present file as its declaration says; returns its sha256, raises WeightsMismatch
    with a one-line message naming the file."""
    actual = sha256_of(path)
    expected = expected_sha256(wf)
    if expected is not None:
        if actual != expected:
            raise WeightsMismatch(f"{path}: sha256 {actual} does not match the manifest's {expected} "
                                  f"(wrong, truncated or corrupted file; re-download from {wf.source})")
        return actual
    if wf.hash_prefix and not actual.startswith(wf.hash_prefix):
        raise WeightsMismatch(f"{path}: sha256 {actual} does not start with {wf.hash_prefix}, the hash prefix "
                              f"its name carries (corrupted file; re-download from {wf.source})")
    size = path.stat().st_size
    if wf.size_range and not wf.size_range[0] <= size <= wf.size_range[1]:
        raise WeightsMismatch(f"{path}: {size:,} bytes, outside the expected {wf.size_range[0]:,}-"
                              f"{wf.size_range[1]:,} (re-download from {wf.source})")
    if wf.check_format:
        try:
            wf.check_format(path)
        except ValueError as exc:
            raise WeightsMismatch(f"{path}: not the expected checkpoint format: "
                                  f"{' '.join(str(exc).split())[:300]}") from exc
    return actual


def resolve(wf: WeightFile) -> tuple[Path, str]:
    """Locate and verify a weight file. Returns (path, actual sha256)."""
    path = locate(wf)
    return path, verify(wf, path)
