"""Time the report writers on a full-size fabricated run (150 cases, 50 per subset).

The run is written through the real store and clip writer by the report tests' helper, with
the tests' fake metric manifest (six metrics, 10 outputs). Prints seconds per step and sizes.

    python -m benchmarks.bench_reports      (from the repository root)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import harmony_bench.reports.runs  # noqa: E402
from harmony_bench.reports import compare_runs, write_leaderboard, write_run_report  # noqa: E402
from tests.reports.conftest import fake_metric_class, make_run  # noqa: E402


def full_case_set() -> list[dict]:
    cases = [{"id": f"amb-{i:03d}", "subset": "ambient", "video_caption": f"Scene {i}.", "audio_caption": "A thud."}
             for i in range(1, 51)]
    cases += [{"id": f"sp-{i:03d}", "subset": "speech", "video_caption": "a man is speaking",
               **({"spoken_word_zh": "今天天气很好。", "language": "zh"} if i > 35 else
                  {"spoken_word_en": f"Sentence {i} is spoken.", "language": "en"})} for i in range(1, 51)]
    cases += [{"id": f"cx-{i:03d}", "subset": "complex", "video_caption": f"A man talks ({i}).",
               "audio_caption": "A door slams.", "spoken_word_en": "Did you hear that?", "language": "en"}
              for i in range(1, 51)]
    return cases


def timed(label: str, fn):
    start = time.perf_counter()
    out = fn()
    print(f"{label:<44s} {time.perf_counter() - start:7.2f} s")
    return out


def two_fabricated_runs(root: Path) -> tuple[Path, Path]:
    """Two run folders of the 150 cases with fake scores (run B's shifted), timed as they are made."""
    harmony_bench.reports.runs.metric_class = fake_metric_class
    cases = full_case_set()
    run_a = timed("fabricate run A (150 clips + store)", lambda: make_run(root, "run-a", "a", cases=cases))
    run_b = timed("fabricate run B", lambda: make_run(root, "run-b", "b", shift=0.02, cases=cases))
    return run_a, run_b


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_a, run_b = two_fabricated_runs(root)
        paths = timed("write_run_report (150 cases)", lambda: write_run_report(run_a))
        page = next(p for p in paths if p.name == "report.html")
        print(f"{'files written':<44s} {len(paths):7d}")
        print(f"{'report.html size':<44s} {page.stat().st_size / 1e6:7.2f} MB")
        timed("write_leaderboard (2 runs)", lambda: write_leaderboard([run_a, run_b], root / "board"))
        timed("compare_runs (2 runs, 10 outputs x 4 scopes)", lambda: compare_runs(run_a, run_b))
        # how much a difference can be trusted: CI widths at 50 cases per subset, per-case sd 0.1
        doc = json.loads((run_a / "report" / "report.json").read_text())
        for table in doc["tables"][:2]:
            lo, hi = table["rows"][-1]["cells"]["AQ"]["ci95"]
            print(f"{'AQ 95% CI width, ' + table['key']:<44s} {hi - lo:7.4f}")

if __name__ == "__main__":
    main()
