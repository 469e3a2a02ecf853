"""The results store: one SQLite file per run folder (WAL mode), one row per (case, metric output),
each stamped with what makes it comparable and with the sha256 of the clip it was computed from.

A store holds exactly one run (one model, one case set, one seed: see `harmony_bench.runfolder`),
so rows are keyed by case and metric alone and two stores of the same run merge without
duplicates. Each case's rows are written in one transaction: a kill at any moment loses at most
the case in flight. I/O faults (disk full, read-only folder) surface as `StoreError`, one line
naming the file, with the database left as it was before the failed transaction.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL, model TEXT NOT NULL, case_id TEXT NOT NULL, subset TEXT NOT NULL,
    metric_key TEXT NOT NULL, output TEXT NOT NULL, family TEXT NOT NULL, paper INTEGER NOT NULL,
    direction TEXT NOT NULL, backend TEXT NOT NULL, official INTEGER NOT NULL,
    protocol_version TEXT NOT NULL, weights_sha256 TEXT NOT NULL, value REAL, status TEXT NOT NULL,
    error TEXT, details TEXT, lib_versions TEXT, seed INTEGER, config_hash TEXT,
    started_at REAL, finished_at REAL, clip_sha256 TEXT,
    PRIMARY KEY (case_id, metric_key, output)
);
CREATE TABLE IF NOT EXISTS clips (
    run_id TEXT NOT NULL, model TEXT NOT NULL, case_id TEXT NOT NULL, subset TEXT NOT NULL,
    video_path TEXT, audio_path TEXT, status TEXT NOT NULL, error TEXT, seconds REAL, seed INTEGER,
    created_at REAL, sha256 TEXT, PRIMARY KEY (case_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

STATUSES = ("ok", "unscorable", "unavailable", "error")
FINAL = ("ok", "unscorable")  # statuses a re-run keeps; "unavailable" and "error" are retried
DB_NAME = "results.sqlite"


class StoreError(RuntimeError):
    """A store that cannot be opened, read or written; the message names the file and the cause."""


@dataclass
class ResultRow:
    run_id: str
    model: str
    case_id: str
    subset: str
    metric_key: str
    output: str
    family: str
    paper: bool
    direction: str
    backend: str
    official: bool
    protocol_version: str
    weights_sha256: str
    value: float | None
    status: str
    error: str | None = None
    details: dict = field(default_factory=dict)
    lib_versions: dict = field(default_factory=dict)
    seed: int | None = None
    config_hash: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    clip_sha256: str | None = None


@dataclass
class ClipRow:
    run_id: str
    model: str
    case_id: str
    subset: str
    video_path: str | None  # relative to the run folder when inside it, else absolute
    audio_path: str | None
    status: str
    error: str | None = None
    seconds: float | None = None
    seed: int | None = None
    created_at: float = field(default_factory=time.time)
    sha256: str | None = None  # of the video (and the wav beside it), to tie scores to the clip


def db_path(path: str | Path) -> Path:
    path = Path(path)
    return path if path.suffix == ".sqlite" else path / DB_NAME


def describe_os_error(exc: BaseException, path: Path | str) -> str:
    """One line for an I/O fault, naming the path and what to do."""
    code = getattr(exc, "errno", None)
    text = str(exc).lower()
    if code in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in text:
        return f"{path}: no space left on the device; free space and re-run (everything stored so far is kept)"
    if code == errno.EROFS or "readonly" in text or "read-only" in text:
        return f"{path}: the folder is read-only; use another --out (reading and reporting still work)"
    if code in (errno.EACCES, errno.EPERM):
        return f"{path}: permission denied"
    if code == errno.ENOTDIR:
        return f"{path}: a file stands where a folder is needed"
    return f"{path}: {type(exc).__name__}: {exc}"


class Store:
    """Open a run's store. `create=False` (the default) refuses a folder with no store, so a
    command that only reads never creates anything; `readonly` opens without any write, which
    also works on a read-only file system."""

    def __init__(self, path: str | Path, create: bool = False, readonly: bool = False):
        self.path = db_path(path)
        if not self.path.is_file():
            if not create or readonly:
                where = self.path.parent
                why = "no such folder" if not where.exists() else f"no {DB_NAME}; is this a run folder?"
                raise StoreError(f"{where}: {why}")
            if self.path.parent.exists() and not self.path.parent.is_dir():
                raise StoreError(f"{self.path.parent}: a file stands where the run folder should be")
        self.readonly = readonly
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = self._connect()
            if not readonly:
                with _init_lock(self.path):
                    self.conn.execute("PRAGMA journal_mode=WAL")
                    self.conn.execute("PRAGMA synchronous=NORMAL")
                    self.conn.executescript(SCHEMA)
                    if self.meta("schema_version") is None:
                        self._check_fresh()
                        self.set_meta("schema_version", SCHEMA_VERSION)
            self.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from None
        except OSError as exc:
            raise StoreError(describe_os_error(exc, self.path.parent)) from None
        version = self.meta("schema_version", 1)
        if version != SCHEMA_VERSION and not readonly:
            self.conn.close()
            raise StoreError(f"{self.path}: made by another harmony-bench version (store schema {version}, "
                             f"this one writes {SCHEMA_VERSION}); use a new --out")

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            return sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
        # A read-only run (mounted read-only, or copied off a finished run) must stay reportable:
        # `mode=ro` still needs to create the WAL index, `immutable` does not.
        folder_writable = os.access(self.path.parent, os.W_OK) and not _on_readonly_fs(self.path.parent)
        flag = "mode=ro" if folder_writable else "immutable=1"
        return sqlite3.connect(f"file:{self.path}?{flag}", uri=True, timeout=60.0, isolation_level=None)

    def _check_fresh(self) -> None:
        cols = [r[1] for r in self.conn.execute("PRAGMA table_info(results)")]
        if "clip_sha256" not in cols:
            raise StoreError(f"{self.path}: made by an older harmony-bench (store schema 1); use a new --out")

    def _explain(self, exc: sqlite3.DatabaseError) -> str:
        text = str(exc)
        if "file is not a database" in text or "file is encrypted" in text:
            return f"{self.path}: not a harmony-bench results store ({text})"
        if "unable to open database file" in text:
            return f"{self.path}: cannot open (folder missing, unreadable or read-only)"
        return describe_os_error(exc, self.path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------
    def write_case(self, results: list[ResultRow], clip: ClipRow | None = None) -> None:
        """Store everything computed for one case atomically. A new clip drops the scores of the
        clip it replaces; a recomputed metric replaces all its old rows (its outputs may change)."""
        def body() -> None:
            if clip is not None:
                old = self.conn.execute("SELECT sha256 FROM clips WHERE case_id=?", (clip.case_id,)).fetchone()
                if old is not None and old[0] != clip.sha256:
                    self.conn.execute("DELETE FROM results WHERE case_id=?", (clip.case_id,))
                self._upsert("clips", asdict(clip))
            for key in {(r.case_id, r.metric_key) for r in results}:
                self.conn.execute("DELETE FROM results WHERE case_id=? AND metric_key=?", key)
            for row in results:
                self._upsert("results", _result_record(row))

        self.transaction(body)

    def transaction(self, body) -> None:
        """Run `body` in one write transaction; a fault rolls back and raises StoreError."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            body()
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:  # SQLite has already rolled back after SQLITE_FULL
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(self._explain(exc)) from None
            raise

    def _upsert(self, table: str, d: dict) -> None:
        cols = ", ".join(d)
        marks = ", ".join("?" for _ in d)
        self.conn.execute(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({marks})", list(d.values()))

    def set_meta(self, key: str, value) -> None:
        try:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from None

    def clear(self) -> None:
        """Forget every clip and score (`--overwrite`); the metadata is rewritten by the caller."""
        self.transaction(lambda: [self.conn.execute(f"DELETE FROM {t}") for t in ("results", "clips", "meta")])
        self.set_meta("schema_version", SCHEMA_VERSION)

    # -- reading -------------------------------------------------------------------------
    def meta(self, key: str, default=None):
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # a store too old to have the table
            return default
        return json.loads(row[0]) if row else default

    def all_meta(self) -> dict:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def clip(self, case_id: str) -> ClipRow | None:
        cur = self.conn.execute("SELECT * FROM clips WHERE case_id=?", (case_id,))
        row = cur.fetchone()
        return None if row is None else _clip_row(cur, row)

    def clips(self) -> list[ClipRow]:
        cur = self.conn.execute("SELECT * FROM clips ORDER BY case_id")
        return [_clip_row(cur, r) for r in cur.fetchall()]

    def results(self) -> list[dict]:
        cur = self.conn.execute("SELECT * FROM results ORDER BY case_id, metric_key, output")
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def done_stamps(self, metric_key: str) -> dict[str, set[tuple[str, str, str, str]]]:
        """case_id -> {(output, protocol_version, weights_sha256, clip_sha256)} of final rows."""
        out: dict[str, set] = {}
        for case_id, output, version, sha, clip_sha in self.conn.execute(
                "SELECT case_id, output, protocol_version, weights_sha256, clip_sha256 FROM results "
                f"WHERE metric_key=? AND status IN {FINAL}", (metric_key,)):
            out.setdefault(case_id, set()).add((output, version, sha, clip_sha))
        return out

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM results WHERE status=?", (status,)).fetchone()[0]


def _result_record(row: ResultRow) -> dict:
    d = asdict(row)
    d["paper"], d["official"] = int(row.paper), int(row.official)
    d["details"] = json.dumps(row.details, sort_keys=True, default=str)
    d["lib_versions"] = json.dumps(row.lib_versions, sort_keys=True)
    return d


_CLIP_FIELDS = {f.name for f in fields(ClipRow)}


def _clip_row(cur: sqlite3.Cursor, row: tuple) -> ClipRow:
    d = dict(zip([c[0] for c in cur.description], row))
    return ClipRow(**{k: v for k, v in d.items() if k in _CLIP_FIELDS})


@contextmanager
def _init_lock(db: Path):
    """Serialise opening for writing: SQLite answers "database is locked" at once, without
    waiting, when two processes switch a new file to WAL and create its tables together."""
    fd = os.open(db.with_name(f".{db.name}.init-lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _on_readonly_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def load_results(path: str | Path):
    """All results of a run as a long-format pandas DataFrame (one row per case x metric output).

    `path` is a run folder or its results.sqlite; it is only read (a read-only run works). Case
    metadata (language, tags) is joined from the run's case set when it can be found.
    """
    import pandas as pd

    with Store(path, readonly=True) as store:
        df = pd.read_sql_query("SELECT * FROM results ORDER BY case_id, metric_key, output", store.conn)
        cases_dir = store.meta("cases_dir")
    for col in ("paper", "official"):
        df[col] = df[col].astype(bool)
    for col in ("details", "lib_versions"):
        df[col] = df[col].map(lambda s: json.loads(s) if s else {})
    languages, tags = {}, {}
    if cases_dir and Path(cases_dir).is_dir():
        from harmony_bench.cases import load_cases

        for case in load_cases(cases_dir, validate=False):
            languages[case.id], tags[case.id] = case.language, case.tags
    df.insert(4, "language", df["case_id"].map(languages))
    df.insert(5, "tags", df["case_id"].map(lambda c: tags.get(c, {})))
    return df
