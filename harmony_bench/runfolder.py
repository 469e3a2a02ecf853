"""A run folder: one model, one case set, one seed, and everything measured for them.

    <run>/results.sqlite   the store (identity in its meta table)
    <run>/run.json         the same identity, for people and other tools
    <run>/clips/           generated clips (paths in the store are relative to <run>)
    <run>/.locks/          one lock file per case, held while a process works on that case

The identity decides reuse: a clip or score is reused only under the identity it was made with,
so a second model, seed or case set never inherits another's numbers. The run id is derived from
the identity, not from the folder name, so a folder can be moved, copied or renamed, and shards
of one run made in different folders merge into exactly the store one process would write.

Concurrency: processes sharing a run folder (shards, or the same command twice) coordinate
through per-case `flock` locks, which the kernel releases when a process dies; the store itself
serialises writes (SQLite WAL). A folder-wide lock is taken shared by workers and exclusively by
`--overwrite` and `merge`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harmony_bench.store import DB_NAME, ClipRow, Store, StoreError, describe_os_error

IDENTITY_KEYS = ("model", "case_set_sha256", "seed")


class RunFolderError(RuntimeError):
    """A run folder that cannot be used as asked; the message says why and how to proceed."""


@dataclass(frozen=True)
class Identity:
    """What makes two sets of clips and scores the same run."""

    model: dict  # the model adapter's identity: spec, class, plugin package and version, settings
    case_set_sha256: str
    seed: int

    def as_dict(self) -> dict:
        return {"model": self.model, "case_set_sha256": self.case_set_sha256, "seed": self.seed}

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.as_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def differences(self, other: "Identity") -> list[str]:
        out = []
        if self.model != other.model:
            keys = sorted(k for k in {*self.model, *other.model} if self.model.get(k) != other.model.get(k))
            shown = ", ".join(f"{k}: {other.model.get(k)!r} -> {self.model.get(k)!r}" for k in keys[:3])
            out.append(f"model ({shown})")
        if self.case_set_sha256 != other.case_set_sha256:
            out.append(f"case set (sha256 {other.case_set_sha256[:12]} -> {self.case_set_sha256[:12]})")
        if self.seed != other.seed:
            out.append(f"seed ({other.seed} -> {self.seed})")
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Identity":
        return cls(d["model"], d["case_set_sha256"], int(d["seed"]))


def file_sha256(*paths: Path | None) -> str:
    h = hashlib.sha256()
    for p in paths:
        if p is None:
            continue
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


class RunFolder:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- paths ---------------------------------------------------------------------------
    @property
    def clips_dir(self) -> Path:
        return self.root / "clips"

    def exists(self) -> bool:
        return (self.root / DB_NAME).is_file()

    def require(self) -> None:
        """For commands that only read or add to an existing run: never create it."""
        if not self.root.exists():
            raise RunFolderError(f"{self.root}: no such folder")
        if not self.root.is_dir():
            raise RunFolderError(f"{self.root}: a file, not a run folder")
        if not self.exists():
            raise RunFolderError(f"{self.root}: not a run folder (no {DB_NAME})")

    def check_creatable(self) -> None:
        for parent in (self.root, *self.root.parents):
            if parent.exists():
                if not parent.is_dir():
                    raise RunFolderError(f"{parent}: a file stands where the run folder {self.root} should be")
                break

    def relative(self, path: Path | None) -> str | None:
        """How a clip path is stored: relative to the run folder when inside it."""
        if path is None:
            return None
        path = Path(path).resolve()
        try:
            return str(path.relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def absolute(self, stored: str | None) -> Path | None:
        if not stored:
            return None
        p = Path(stored)
        return p if p.is_absolute() else self.root / p

    # -- identity ------------------------------------------------------------------------
    def open(self, identity: Identity | None, cases_dir: Path | None = None, overwrite: bool = False) -> Store:
        """Open the store for writing. With an identity, create the run or check that it is the
        same run; without one (evaluate an existing run), the folder must already be a run."""
        if identity is None:
            self.require()
        else:
            self.check_creatable()
        try:
            store = Store(self.root, create=identity is not None)
        except StoreError as exc:
            raise RunFolderError(str(exc)) from None
        try:
            stored = self.stored_identity(store)
            if identity is not None and stored is not None and stored != identity:
                if not overwrite:
                    raise RunFolderError(
                        f"{self.root} holds another run: its {'; '.join(identity.differences(stored))} "
                        f"differ. Use a new --out, or --overwrite to discard that run's clips and scores")
                self._discard(store)
                stored = None
            if identity is not None and stored is None:
                self._stamp(store, identity, cases_dir)
            elif identity is None and stored is None:
                raise RunFolderError(f"{self.root}: no clips in this run yet; run `harmony-bench generate` "
                                     "first or pass --model")
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def stored_identity(store: Store) -> Identity | None:
        d = store.meta("identity")
        return Identity.from_dict(d) if d else None

    def _stamp(self, store: Store, identity: Identity, cases_dir: Path | None) -> None:
        """All of the run's metadata in one transaction: a kill never leaves a half-stamped run."""
        meta = {"run_id": identity.run_id, "name": self.root.resolve().name,
                "case_set_sha256": identity.case_set_sha256, "seed": identity.seed, "model": identity.model,
                "model_name": identity.model.get("name"), "identity": identity.as_dict()}
        if cases_dir is not None:
            meta["cases_dir"] = str(Path(cases_dir).resolve())
        store.transaction(lambda: [store.set_meta(k, v) for k, v in meta.items()])

    def _discard(self, store: Store) -> None:
        with self.folder_lock(exclusive=True):
            store.clear()
            shutil.rmtree(self.clips_dir, ignore_errors=True)
            for stale in ("run.json", "summary.json"):
                (self.root / stale).unlink(missing_ok=True)
            shutil.rmtree(self.root / "report", ignore_errors=True)

    def write_run_json(self, store: Store, extra: dict) -> None:
        meta = store.all_meta()
        info = {"run_id": meta.get("run_id"), "name": meta.get("name"), "identity": meta.get("identity"),
                "cases_dir": meta.get("cases_dir"), "case_set_sha256": meta.get("case_set_sha256"),
                "seed": meta.get("seed"), "model_info": meta.get("model"), **extra}
        atomic_write(self.root / "run.json", json.dumps(info, indent=2, sort_keys=True))

    # -- locks ---------------------------------------------------------------------------
    @contextmanager
    def folder_lock(self, exclusive: bool = False):
        """Shared by workers; exclusive for operations that rewrite the whole run."""
        path = self.root / ".locks" / "folder.lock"
        with _flock(path, exclusive, blocking=False) as got:
            if not got:
                raise RunFolderError(f"{self.root} is in use by another harmony-bench process; "
                                     "wait for it to finish or use another --out")
            yield

    @contextmanager
    def case_lock(self, case_id: str, blocking: bool = False):
        """Yields True when this process holds the case, False when another one does."""
        with _flock(self.root / ".locks" / f"{case_id}.lock", exclusive=True, blocking=blocking) as got:
            yield got

    # -- clips ---------------------------------------------------------------------------
    def new_staging(self, case_id: str) -> Path:
        """A private folder for one generation; nothing half-written ever lands in clips/. Make
        it while the case's lock is held (by this process, or by the driver that sent the case
        to this worker): what a killed process left for this case is removed first. The caller
        publishes from it and removes it."""
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        self.clear_staging(case_id)
        return Path(tempfile.mkdtemp(prefix=f".staging-{case_id}~", dir=self.clips_dir))

    def clear_staging(self, case_id: str) -> None:
        for stale in self.clips_dir.glob(f".staging-{case_id}~*"):
            shutil.rmtree(stale, ignore_errors=True)

    def clear_abandoned_staging(self) -> None:
        """Remove what killed processes (SIGTERM, SIGKILL) left in clips/: the staging folders of
        cases no process holds now. A folder in use stays: its case's lock is held."""
        for stale in sorted(self.clips_dir.glob(".staging-*~*")):
            case_id = stale.name.removeprefix(".staging-").rpartition("~")[0]  # ids hold no "~"
            with self.case_lock(case_id) as free:
                if free:
                    shutil.rmtree(stale, ignore_errors=True)

    def publish(self, staged: Path | None, staging_dir: Path) -> Path | None:
        """Move a file written into the staging folder to clips/ atomically; files a model
        returned from elsewhere (a `dir:` folder) stay where they are."""
        if staged is None:
            return None
        staged = Path(staged)
        if staged.resolve().parent != staging_dir.resolve():
            return staged
        final = self.clips_dir / staged.name
        os.replace(staged, final)
        return final


@contextmanager
def _flock(path: Path, exclusive: bool, blocking: bool):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RunFolderError(describe_os_error(exc, path.parent)) from None
    try:
        flags = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
            got = True
        except BlockingIOError:
            got = False
        yield got
    finally:
        os.close(fd)  # closing releases the lock


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so a fault leaves the old file or none."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunFolderError(describe_os_error(exc, path)) from None


# -- merge ---------------------------------------------------------------------------------
def merge_runs(into: Path, sources: list[Path]) -> dict[str, int]:
    """Merge run folders of one run (shards made elsewhere) into `into`, creating it if needed.

    Exact and idempotent: per case, the newer clip wins and takes its scores with it; per
    (case, metric), a final row (ok / unscorable) beats a retryable one and otherwise the newer
    computation wins. Clip files are copied into `into/clips`. Runs of another identity are refused.
    """
    target = RunFolder(into)
    srcs = [RunFolder(s) for s in sources]
    for s in srcs:
        s.require()
        if s.root.resolve() == target.root.resolve():
            raise RunFolderError(f"{s.root}: cannot merge a run folder into itself")
    opened = []
    try:
        for s in srcs:
            try:
                opened.append(Store(s.root, readonly=True))
            except StoreError as exc:
                raise RunFolderError(str(exc)) from None
        identities = [RunFolder.stored_identity(st) for st in opened]
        for s, ident in zip(srcs, identities):
            if ident is None:
                raise RunFolderError(f"{s.root}: made by an older harmony-bench (no run identity); cannot merge it")
        first = identities[0]
        for s, ident in zip(srcs[1:], identities[1:]):
            if ident != first:
                raise RunFolderError(f"{s.root} is another run than {srcs[0].root}: its "
                                     f"{'; '.join(ident.differences(first))} differ")
        counts = {"clips": 0, "rows": 0}
        with target.open(first, cases_dir=Path(opened[0].meta("cases_dir") or ".")) as store, \
                target.folder_lock(exclusive=True):
            for src, st in zip(srcs, opened):
                c, r = _merge_one(target, store, src, st)
                counts["clips"] += c
                counts["rows"] += r
            target.write_run_json(store, {})
        return counts
    finally:
        for st in opened:
            st.close()


def _merge_one(target: RunFolder, store: Store, src: RunFolder, src_store: Store) -> tuple[int, int]:
    n_clips = n_rows = 0
    for clip in src_store.clips():
        mine = store.clip(clip.case_id)
        if mine is not None and not _newer_clip(clip, mine):
            continue
        row = _copied_clip(target, src, clip)
        store.write_case([], clip=row)
        n_clips += 1
    mine_rows: dict[tuple[str, str], dict] = {(r["case_id"], r["metric_key"]): r for r in store.results()}
    chosen = []
    for r in src_store.results():
        mine = store.clip(r["case_id"])
        if mine is None or r["clip_sha256"] != mine.sha256:
            continue  # scored on a clip this run no longer holds
        current = mine_rows.get((r["case_id"], r["metric_key"]))
        if current is None or _newer_row(r, current):
            chosen.append(r)
    if chosen:
        store.transaction(lambda: _replace_rows(store, chosen))
        n_rows = len(chosen)
    return n_clips, n_rows


def _replace_rows(store: Store, rows: list[dict]) -> None:
    for case_id, metric_key in {(r["case_id"], r["metric_key"]) for r in rows}:
        store.conn.execute("DELETE FROM results WHERE case_id=? AND metric_key=?", (case_id, metric_key))
    for r in rows:
        store._upsert("results", r)


def _newer_clip(theirs: ClipRow, mine: ClipRow) -> bool:
    if (theirs.status == "ok") != (mine.status == "ok"):
        return theirs.status == "ok"
    return (theirs.created_at or 0) > (mine.created_at or 0)


def _newer_row(theirs: dict, mine: dict) -> bool:
    final_t, final_m = theirs["status"] in ("ok", "unscorable"), mine["status"] in ("ok", "unscorable")
    if final_t != final_m:
        return final_t
    return (theirs["finished_at"] or 0) > (mine["finished_at"] or 0)


def _copied_clip(target: RunFolder, src: RunFolder, clip: ClipRow) -> ClipRow:
    paths = []
    for stored in (clip.video_path, clip.audio_path):
        path = src.absolute(stored)
        if path is not None and not Path(stored).is_absolute():  # inside the source run: copy it
            dest = target.root / stored
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, dest)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise RunFolderError(describe_os_error(exc, dest)) from None
            paths.append(stored)
        else:
            paths.append(stored)
    return ClipRow(**{**clip.__dict__, "video_path": paths[0], "audio_path": paths[1]})
