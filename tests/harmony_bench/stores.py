"""Comparing run folders row by row: everything but wall-clock timings must be equal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

TIMING = {"started_at", "finished_at", "seconds", "created_at"}


def rows(run_dir: Path, table: str) -> list[dict]:
    con = sqlite3.connect(f"file:{Path(run_dir) / 'results.sqlite'}?mode=ro", uri=True)
    try:
        cur = con.execute(f"SELECT * FROM {table}")
        names = [c[0] for c in cur.description]
        out = [{k: v for k, v in zip(names, r) if k not in TIMING} for r in cur.fetchall()]
    finally:
        con.close()
    return sorted(out, key=lambda r: tuple(str(r.get(k)) for k in ("case_id", "metric_key", "output")))


def identity_meta(run_dir: Path) -> dict:
    con = sqlite3.connect(f"file:{Path(run_dir) / 'results.sqlite'}?mode=ro", uri=True)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()
    return {k: meta.get(k) for k in ("identity", "run_id", "case_set_sha256", "seed", "model", "schema_version")}


def assert_same_run(a: Path, b: Path) -> None:
    """Exactly the same clips, scores (values included) and run metadata."""
    assert identity_meta(a) == identity_meta(b)
    assert rows(a, "clips") == rows(b, "clips")
    ra, rb = rows(a, "results"), rows(b, "results")
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb):
        assert x == y, (x, y)
