"""`make run` end to end: the Harmony checkpoint on the Harmony-Bench cases, generation then the
offline evaluation, with the old defaults (before) and the current ones (after), optionally beside
one CPU-bound process pinned to core 0 (`taskset -c 0`).

    python benchmarks/bench_make_run.py                        # the 150 cases, quiet machine
    python benchmarks/bench_make_run.py --busy                 # the same beside one busy loop
    python benchmarks/bench_make_run.py --limit 2 --out FILE   # 2 cases per subset, a quick try

Each configuration runs `harmony-bench generate`, `evaluate` and `report` (what `make run` does in
one process) in fresh processes on an empty run folder, timed by wall clock; the environment is
built beforehand (set-up excluded), each command's start-up (imports, model loading) is included.
"before" is the tree of git commit `--before` (default: the last commit before batched generation)
unpacked into a temporary folder and run with the same Python; "after" is this tree. The clips of
both are compared (sha256 in the store): the clips are the same whatever the settings only where
the torch thread count is the same, so "before" (two torch threads) may differ in the last bits.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE = "b5fa7fb"  # the last commit with one case at a time on the default torch threads
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
LAUNCHER = "import sys; sys.path.insert(0, sys.argv[1]); from harmony_bench.cli import main; sys.exit(main(sys.argv[2:]))"


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def unpack(commit: str, into: Path) -> Path:
    """The tree of `commit` as files (git archive keeps the package's symlinks)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def timed(tree: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (children) of one `harmony-bench` command run from `tree`."""
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV}  # each tree's own defaults
    done = subprocess.run([sys.executable, "-c", LAUNCHER, str(tree), *args], cwd=tree, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # 1: some case or metric failed, which the summary shows
        raise RuntimeError(f"{' '.join(args[:1])} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)


def one_config(name: str, tree: Path, out: Path, limit: int | None, flags: list[str]) -> dict:
    common = ["--quiet", "--device", "cpu", *(["--limit", str(limit)] if limit else [])]
    row = {"name": name, "load_start": load()}
    row["generate"] = timed(tree, ["generate", "--model", "harmony", "--out", str(out), *common, *flags])
    row["evaluate"] = timed(tree, ["evaluate", str(out), *common])
    row["report"] = timed(tree, ["report", str(out)])
    row["load_end"] = load()
    con = sqlite3.connect(f"file:{out / 'results.sqlite'}?mode=ro", uri=True)
    try:
        row["clips"] = dict(con.execute("SELECT case_id, sha256 FROM clips WHERE status = 'ok'").fetchall())
        row["rows_ok"] = con.execute("SELECT COUNT(*) FROM results WHERE status = 'ok'").fetchone()[0]
    finally:
        con.close()
    return row


def busy_loop() -> subprocess.Popen:
    """One CPU-bound Python process pinned to core 0 (the "beside one busy process" case)."""
    return subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, help="cases per subset (default: all 150 cases)")
    ap.add_argument("--busy", action="store_true", help="run beside one busy loop pinned to core 0")
    ap.add_argument("--before", default=BEFORE, help=f"git commit of the old defaults (default {BEFORE})")
    ap.add_argument("--configs", default="before,after,after-1-thread",
                    help="comma-separated: before, after, after-1-thread (one generation thread)")
    ap.add_argument("--out", type=Path, help="append the figures to this file")
    args = ap.parse_args()

    lines = [f"# python benchmarks/bench_make_run.py {' '.join(sys.argv[1:])}   "
             f"({datetime.now(timezone.utc):%Y-%m-%dT%H:%MZ}; {os.cpu_count()} cores; {load()} at start)"]
    say = lambda text: (print(text, flush=True), lines.append(text))  # noqa: E731
    busy = busy_loop() if args.busy else None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-make-run-") as tmp:
            tmp = Path(tmp)
            trees = {"before": unpack(args.before, Path(tempfile.mkdtemp(dir=tmp))), "after": REPO}
            flags = {"before": [], "after": [], "after-1-thread": ["--generation-threads", "1"]}
            say(("beside one busy loop pinned to core 0" if busy else "no load of ours beside it")
                + f"; {'all 150 cases' if not args.limit else f'{args.limit} case(s) per subset'}; wall s (CPU s)")
            say(f"{'config':16} {'generate':>16} {'evaluate':>16} {'report':>14} {'total':>8}  clips  ok rows  load at start / end")
            rows = []
            for name in args.configs.split(","):
                tree = trees["before" if name == "before" else "after"]
                row = one_config(name, tree, tmp / name, args.limit, flags[name])
                rows.append(row)
                total = sum(row[k][0] for k in ("generate", "evaluate", "report"))
                cells = " ".join(f"{row[k][0]:7.1f} ({row[k][1]:6.1f})" for k in ("generate", "evaluate"))
                say(f"{name:16} {cells} {row['report'][0]:6.1f} ({row['report'][1]:5.1f}) {total:8.1f}  "
                    f"{len(row['clips']):5d}  {row['rows_ok']:7d}  {row['load_start']} / {row['load_end']}")
                shutil.rmtree(tmp / name, ignore_errors=True)
            for row in rows[1:]:
                same = sum(row["clips"].get(k) == v for k, v in rows[0]["clips"].items())
                say(f"clips of {row['name']} equal to {rows[0]['name']}'s (sha256): {same} of {len(rows[0]['clips'])}")
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
