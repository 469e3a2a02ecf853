"""The results store: one SQLite file per run (WAL mode), one row per
(run, model, case, metric output), each stamped with what makes it comparable.

Each case's rows are written in one transaction, so a kill at any moment loses at most the case
in flight. Re-running skips rows already stored under the same protocol and weights.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL, model TEXT NOT NULL, case_id TEXT NOT NULL, subset TEXT NOT NULL,
    metric_key TEXT NOT NULL, output TEXT NOT NULL, family TEXT NOT NULL, paper INTEGER NOT NULL,
    direction TEXT NOT NULL, backend TEXT NOT NULL, official INTEGER NOT NULL,
    protocol_version TEXT NOT NULL, weights_sha256 TEXT NOT NULL, value REAL, status TEXT NOT NULL,
    error TEXT, details TEXT, lib_versions TEXT, seed INTEGER, config_hash TEXT,
    started_at REAL, finished_at REAL,
    PRIMARY KEY (run_id, model, case_id, metric_key, output)
);
CREATE TABLE IF NOT EXISTS clips (
    run_id TEXT NOT NULL, model TEXT NOT NULL, case_id TEXT NOT NULL, subset TEXT NOT NULL,
    video_path TEXT, audio_path TEXT, status TEXT NOT NULL, error TEXT, seconds REAL, seed INTEGER,
    created_at REAL, PRIMARY KEY (run_id, model, case_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

STATUSES = ("ok", "unscorable", "unavailable", "error")
DB_NAME = "results.sqlite"


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


@dataclass
class ClipRow:
    run_id: str
    model: str
    case_id: str
    subset: str
    video_path: str | None
    audio_path: str | None
    status: str
    error: str | None = None
    seconds: float | None = None
    seed: int | None = None
    created_at: float = field(default_factory=time.time)


class Store:
    def __init__(self, path: str | Path):
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path = path / DB_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------
    def write_case(self, results: list[ResultRow], clip: ClipRow | None = None) -> None:
        """Store everything computed for one case atomically."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if clip is not None:
                self._upsert("clips", asdict(clip))
            # A recomputed metric replaces all its old rows (its outputs may have changed).
            for key in {(r.run_id, r.model, r.case_id, r.metric_key) for r in results}:
                self.conn.execute("DELETE FROM results WHERE run_id=? AND model=? AND case_id=? AND metric_key=?", key)
            for row in results:
                d = asdict(row)
                d["paper"], d["official"] = int(row.paper), int(row.official)
                d["details"] = json.dumps(row.details, sort_keys=True, default=str)
                d["lib_versions"] = json.dumps(row.lib_versions, sort_keys=True)
                self._upsert("results", d)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _upsert(self, table: str, d: dict) -> None:
        cols = ", ".join(d)
        marks = ", ".join("?" for _ in d)
        self.conn.execute(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({marks})", list(d.values()))

    def set_meta(self, key: str, value) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    # -- reading -------------------------------------------------------------------------
    def meta(self, key: str, default=None):
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def clip(self, run_id: str, model: str, case_id: str) -> ClipRow | None:
        cur = self.conn.execute("SELECT * FROM clips WHERE run_id=? AND model=? AND case_id=?", (run_id, model, case_id))
        row = cur.fetchone()
        if row is None:
            return None
        return ClipRow(**dict(zip([c[0] for c in cur.description], row)))

    def clips(self) -> list[ClipRow]:
        cur = self.conn.execute("SELECT * FROM clips ORDER BY case_id")
        names = [c[0] for c in cur.description]
        return [ClipRow(**dict(zip(names, r))) for r in cur.fetchall()]

    def done_stamps(self, run_id: str, model: str, metric_key: str) -> dict[str, set[tuple[str, str, str]]]:
        """case_id -> {(output, protocol_version, weights_sha256)} of final rows (ok/unscorable)."""
        out: dict[str, set] = {}
        for case_id, output, version, sha in self.conn.execute(
                "SELECT case_id, output, protocol_version, weights_sha256 FROM results "
                "WHERE run_id=? AND model=? AND metric_key=? AND status IN ('ok','unscorable')",
                (run_id, model, metric_key)):
            out.setdefault(case_id, set()).add((output, version, sha))
        return out

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM results WHERE status=?", (status,)).fetchone()[0]

    def merge_from(self, other: str | Path) -> int:
        """Copy every row of another store (e.g. a shard run elsewhere) into this one."""
        other = Store(other)
        n = 0
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for table in ("results", "clips"):
                cur = other.conn.execute(f"SELECT * FROM {table}")
                names = [c[0] for c in cur.description]
                for r in cur.fetchall():
                    self._upsert(table, dict(zip(names, r)))
                    n += table == "results"
            self.conn.execute("COMMIT")
        finally:
            other.close()
        return n


def load_results(path: str | Path):
    """All results of a run as a long-format pandas DataFrame (one row per case x metric output).

    `path` is a run folder or its results.sqlite. Case metadata (language, tags) is joined from
    the run's case set when it can be found.
    """
    import pandas as pd

    store = Store(path)
    try:
        df = pd.read_sql_query("SELECT * FROM results ORDER BY case_id, metric_key, output", store.conn)
        cases_dir = store.meta("cases_dir")
    finally:
        store.close()
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
