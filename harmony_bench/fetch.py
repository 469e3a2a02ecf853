"""Fetching weight files on request (`harmony-bench weights fetch`): nothing else downloads.

`fetch_files` takes any list of `WeightFile`s (the official metrics' files, or other pinned files
such as known-answer inputs) and a destination folder. For each file:
- the source: `--from DIR` or `$HARMONY_BENCH_WEIGHTS_MIRROR` (a folder or a base URL laid out as
  the weights folder) replaces every other; else the Hub (`$HF_ENDPOINT`, default huggingface.co,
  at the declared revision, with the token of `$HF_TOKEN` or `hf auth login`), else the file's URL;
- the bytes go to `<name>.part` beside the final name; an interrupted transfer resumes from there
  with an HTTP Range request (retried a few times within one call, and on the next call); a
  second fetch of a file in transfer stops with one line (`<name>.part.lock`);
- the file is verified exactly as `harmony_bench.weights.verify` verifies it at use, then moved to
  its final name with an atomic rename: nothing unverified ever sits under the final name; a file
  failing verification is deleted with one line.
Before the first byte: licences that restrict use (non-commercial, copyleft) need consent, and the
total size is checked against the free space of the folder.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harmony_bench.weights import WeightFile, WeightsMismatch, move_hashed, verify

MIRROR_ENV = "HARMONY_BENCH_WEIGHTS_MIRROR"
DEFAULT_ENDPOINT = "https://huggingface.co"
PART_SUFFIX = ".part"
CHUNK = 1 << 20
ATTEMPTS = 3  # transfers of one file within one call; each later one resumes where the last stopped
TIMEOUT_S = 60
# Licences whose terms a user accepts before fetching: non-commercial (NC) and copyleft (GPL family, ShareAlike)
RESTRICTED = re.compile(r"\bNC\b|BY-NC|non-?commercial|\bA?GPL|LGPL|copyleft|\bSA\b|-SA\b", re.IGNORECASE)


class FetchError(RuntimeError):
    """One file could not be fetched; the message is one line naming it."""


@dataclass(frozen=True)
class Source:
    kind: str  # "copy" (a local folder), "url" (plain HTTP), "hub", or "none" (no direct download)
    location: str  # path or URL; for "none" the publisher's page

    def describe(self) -> str:
        if self.kind == "none":
            return f"no direct download: get it by hand from {self.location}"
        return self.location


def source_of(wf: WeightFile, from_dir: Path | None = None) -> Source:
    """Where `wf` comes from on this machine, in the order the module docstring gives."""
    mirror = str(from_dir) if from_dir is not None else os.environ.get(MIRROR_ENV, "")
    if mirror:
        if re.match(r"https?://", mirror):
            return Source("url", f"{mirror.rstrip('/')}/{urllib.parse.quote(wf.name)}")
        return Source("copy", str(Path(mirror).expanduser() / wf.name))
    if wf.hub:
        endpoint = os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")
        revision = urllib.parse.quote(wf.hub.revision, safe="")  # a branch may hold "/"
        return Source("hub", f"{endpoint}/{wf.hub.repo}/resolve/{revision}/{urllib.parse.quote(wf.hub.path)}")
    if wf.url:
        return Source("url", wf.url)
    return Source("none", wf.source)


def expected_size(wf: WeightFile) -> int | None:
    """Bytes for the free-space check: the exact size, else an estimate or the upper accepted size."""
    return wf.size_bytes or wf.size_estimate or (wf.size_range[1] if wf.size_range else None)


def size_text(wf: WeightFile) -> str:
    if wf.size_bytes:
        return human(wf.size_bytes)
    size = expected_size(wf)
    return f"about {human(size)}" if size else "size not published"


def human(n: int) -> str:
    """Bytes in decimal units, as the publishers print sizes: 950.1 MB, 4.8 GB."""
    if n < 1000:
        return f"{n} B"
    scaled, unit = n / 1000, "kB"
    for bigger in ("MB", "GB"):
        if scaled < 1000:
            break
        scaled, unit = scaled / 1000, bigger
    return f"{scaled:.1f} {unit}"


def restricted(licence: str) -> bool:
    """True for a licence that restricts use (non-commercial or copyleft): fetching needs consent."""
    return bool(RESTRICTED.search(licence))


def free_bytes(folder: Path) -> int:
    """Free space where `folder` is (or will be: its nearest existing parent)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


@dataclass
class FetchReport:
    fetched: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already there and verified
    refused: list[str] = field(default_factory=list)  # licence not accepted
    failed: list[str] = field(default_factory=list)  # one line each

    @property
    def ok(self) -> bool:
        return not (self.refused or self.failed)


@dataclass
class _Progress:
    """Progress lines of the file in transfer and over all files, at most one every `every` seconds."""

    total: int
    out: Callable[[str], None]
    done: int = 0  # bytes of finished files and of the file in transfer
    every: float = 2.0
    _last: float = 0.0

    def advance(self, name: str, have: int, size: int | None, nbytes: int) -> None:
        self.done += nbytes
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        this = f"{human(have)} of {human(size)}" if size else human(have)
        overall = f"; overall {human(self.done)} of {human(self.total)}" if self.total else ""
        self.out(f"    {name}: {this}{overall}")


def fetch_files(files: list[WeightFile], folder: Path, *, from_dir: Path | None = None,
                accept_licence: bool = False, ask: Callable[[str], bool] | None = None,
                out: Callable[[str], None] = print, free_space: Callable[[Path], int] | None = None
                ) -> FetchReport:
    """Fetch, verify and place each of `files` under `folder` (see the module docstring).

    ask: asks the user to accept one licence (None: no terminal to ask, so restricted files are
    refused unless `accept_licence`). free_space: bytes free in a folder (tests inject a small disk)."""
    report = FetchReport()
    todo = []
    for wf in _unique(files):
        if _present_and_verified(wf, folder):
            report.present.append(wf.name)
        elif _licence_accepted(wf, accept_licence, ask):
            todo.append(wf)
        else:
            report.refused.append(wf.name)
    for name in report.present:
        out(f"{name}: already present and verified")
    for name in report.refused:
        out(f"{name}: not fetched: its licence needs consent (pass --accept-licence, or answer yes at a terminal)")
    total = _check_space(todo, folder, free_space or free_bytes)
    progress = _Progress(total, out)
    for k, wf in enumerate(todo, 1):
        source = source_of(wf, from_dir)
        out(f"[{k}/{len(todo)}] {wf.name} ({size_text(wf)}; {wf.licence}) from {source.describe()}")
        try:
            _fetch_one(wf, source, folder, progress)
        except FetchError as exc:
            report.failed.append(str(exc))
            out(f"  failed: {exc}")
            continue
        report.fetched.append(wf.name)
        overall = f" (overall {human(progress.done)} of {human(total)})" if total else ""
        out(f"  verified and in place: {folder / wf.name}{overall}")
    return report


def _unique(files: list[WeightFile]) -> list[WeightFile]:
    seen: dict[str, WeightFile] = {}
    for wf in files:
        seen.setdefault(wf.name, wf)
    return list(seen.values())


def _present_and_verified(wf: WeightFile, folder: Path) -> bool:
    path = folder / wf.name
    if not path.is_file():
        return False
    try:
        verify(wf, path)
    except WeightsMismatch:
        return False  # fetched again into .part; replaced only once the new bytes verify
    return True


def _licence_accepted(wf: WeightFile, accept_licence: bool, ask: Callable[[str], bool] | None) -> bool:
    if not restricted(wf.licence) or accept_licence:
        return True
    return ask is not None and ask(f"{wf.name} is under {wf.licence}; accept its terms? [y/N] ")


def _check_space(todo: list[WeightFile], folder: Path, free_space: Callable[[Path], int]) -> int:
    """Total bytes still to transfer; raises FetchError (before any byte) when they do not fit."""
    need = 0
    for wf in todo:
        part = folder / (wf.name + PART_SUFFIX)
        need += max((expected_size(wf) or 0) - (part.stat().st_size if part.is_file() else 0), 0)
    free = free_space(folder)
    if need > free:
        raise FetchError(f"not enough disk space in {folder}: these files need {human(need)}, "
                         f"{human(free)} free; nothing was fetched")
    return need


def _fetch_one(wf: WeightFile, source: Source, folder: Path, progress: _Progress) -> None:
    part = folder / (wf.name + PART_SUFFIX)
    part.parent.mkdir(parents=True, exist_ok=True)
    with _only_fetch_of(wf, part):
        if not _present_and_verified(wf, folder):  # another fetch may have placed it meanwhile
            _transfer(wf, source, folder, part, progress)


@contextlib.contextmanager
def _only_fetch_of(wf: WeightFile, part: Path):
    """Hold `<name>.part.lock` while a file transfers: two fetches appending to one `.part` would
    spoil it. The second one stops at once with one line instead of waiting."""
    import fcntl

    lock = part.with_name(part.name + ".lock")
    with lock.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FetchError(f"{wf.name}: another `weights fetch` is transferring it into {part.parent} now; "
                             "run this again once it has finished") from None
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def _transfer(wf: WeightFile, source: Source, folder: Path, part: Path, progress: _Progress) -> None:
    final = folder / wf.name
    if source.kind == "none":
        raise FetchError(f"{wf.name}: no direct download URL is known; get it by hand from {wf.source} "
                         f"and place it at {final}")
    if source.kind == "copy":
        _copy(wf, Path(source.location), part)
        progress.advance(wf.name, part.stat().st_size, part.stat().st_size, part.stat().st_size)
    else:
        _download(wf, source, part, progress)
    try:
        verify(wf, part)
    except WeightsMismatch as exc:
        part.unlink()
        raise FetchError(f"{wf.name}: deleted, it failed verification: {' '.join(str(exc).split())}") from None
    move_hashed(part, final)  # same folder, so atomic: the final name only ever holds verified bytes


def _copy(wf: WeightFile, src: Path, part: Path) -> None:
    if not src.is_file():
        raise FetchError(f"{wf.name}: not in the mirror folder ({src} does not exist)")
    shutil.copyfile(src, part)


def _hub_token() -> str | None:
    token = os.environ.get("HF_TOKEN")
    if token:
        return token
    try:  # the token saved by `hf auth login`, where huggingface_hub is installed
        from huggingface_hub import get_token
    except ImportError:
        return None
    return get_token()


def _download(wf: WeightFile, source: Source, part: Path, progress: _Progress) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        have = part.stat().st_size if part.is_file() else 0
        request = urllib.request.Request(source.location, headers={"User-Agent": "harmony-bench"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        token = _hub_token() if source.kind == "hub" else None
        if token:  # unredirected: the Hub's redirect to its file host must not carry the token
            request.add_unredirected_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # honours *_proxy variables
                _receive(wf, response, part, have, progress)
            return
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # asked past the end: the part holds the whole file
                return
            raise FetchError(_http_message(wf, source, exc)) from None
        except (OSError, http.client.HTTPException) as exc:  # cut connection, timeout, truncated body
            if attempt == ATTEMPTS:
                raise FetchError(f"{wf.name}: transfer interrupted {ATTEMPTS} times ({type(exc).__name__}: "
                                 f"{exc}); run the same command again to resume from {part}") from None
            progress.out(f"  interrupted ({type(exc).__name__}); resuming")


def _receive(wf: WeightFile, response, part: Path, have: int, progress: _Progress) -> None:
    """Append the body to `part` (206: the rest from `have`) or rewrite it (200: the whole file)."""
    resumed = response.status == 206
    have = have if resumed else 0  # a 200 to a Range request: the server sends the whole file again
    length = response.headers.get("Content-Length")
    size = have + int(length) if length else None
    received = 0
    with part.open("ab" if resumed else "wb") as f:
        for block in iter(lambda: response.read(CHUNK), b""):
            f.write(block)
            received += len(block)
            progress.advance(wf.name, have + received, size, len(block))
    if length is not None and received < int(length):
        raise ConnectionError(f"connection closed after {have + received:,} of {size:,} bytes")


def _http_message(wf: WeightFile, source: Source, exc: urllib.error.HTTPError) -> str:
    if source.kind == "hub" and exc.code in (401, 403):
        endpoint = os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")
        return (f"{wf.name}: {wf.hub.repo} is gated (HTTP {exc.code}): accept its licence at "
                f"{endpoint}/{wf.hub.repo} while logged in, then pass a read token: "
                f"HF_TOKEN=hf_... harmony-bench weights fetch (or `hf auth login` once)")
    return f"{wf.name}: HTTP {exc.code} {exc.reason} from {source.location}"


def ask_at_terminal() -> Callable[[str], bool] | None:
    """A yes/no prompt when stdin and stdout are a terminal, else None (nobody to ask)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    return lambda question: input(question).strip().lower() in ("y", "yes")


def metric_files(keys: list[str] | None = None) -> dict[str, tuple[WeightFile, list[str]]]:
    """{file name: (WeightFile, metric keys using it)} of the named metrics, default every official one."""
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    chosen = keys or [k for k in all_metric_keys() if get_metric(k).official]
    files: dict[str, tuple[WeightFile, list[str]]] = {}
    for key in chosen:
        for wf in get_metric(key).weights:
            files.setdefault(wf.name, (wf, []))[1].append(key)
    return files


def dry_run_lines(files: dict[str, tuple[WeightFile, list[str]]], from_dir: Path | None = None) -> list[str]:
    """What `weights fetch --dry-run` prints: file, source, size, licence, and the total."""
    lines, total, unknown = [], 0, 0
    for wf, keys in files.values():
        consent = "; needs --accept-licence" if restricted(wf.licence) else ""
        lines += [f"{wf.name}  [{', '.join(keys)}]",
                  f"  source:  {source_of(wf, from_dir).describe()}",
                  f"  size:    {size_text(wf)}",
                  f"  licence: {wf.licence}{consent}"]
        size = expected_size(wf)
        total += size or 0
        unknown += size is None
    lines.append(f"total: {len(files)} files, {human(total)}"
                 + (f" (+ {unknown} of unpublished size)" if unknown else ""))
    return lines
