"""Time the leaderboard site, the previews and the submission bundle on full-size fabricated runs.

Two runs of 150 cases (the report benchmark's case set and fake metric manifest, clips of 1 s at
32x32) for the site; a real run of the `noise` model on the tests' six-case set (1 s clips,
two classical metrics) for the bundle and `verify`; one 5 s 480x832 24 fps clip of moving noise for a preview
(the paper's clip size; noise is the worst case for the encoder). Prints seconds and sizes.

    python -m benchmarks.bench_site      (from the repository root)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from benchmarks.bench_reports import timed, two_fabricated_runs  # noqa: E402
from harmony_bench import runner  # noqa: E402
from harmony_bench.bundle import verify, write_bundle  # noqa: E402
from harmony_bench.media import write_clip  # noqa: E402
from harmony_bench.reports.site import make_preview, write_site  # noqa: E402
from tests.conftest import write_case_set  # noqa: E402


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def paper_size_clip(path: Path) -> Path:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (120, 480, 832, 3), dtype=np.uint8)
    audio = (0.2 * rng.standard_normal(5 * 16000)).astype(np.float32)
    return write_clip(path, frames, 24, audio, 16000)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_a, run_b = two_fabricated_runs(root)
        index = timed("write_site (2 runs, 150 case pages)", lambda: write_site([run_a, run_b], root / "site"))
        print(f"{'index.html size':<44s} {index.stat().st_size / 1e6:7.2f} MB")
        print(f"{'site size (clips linked, not copied)':<44s} {folder_mb(root / 'site'):7.2f} MB")
        timed("write_site with previews (300 clips)", lambda: write_site([run_a, run_b], root / "site-p", True))
        print(f"{'site size with previews':<44s} {folder_mb(root / 'site-p'):7.2f} MB")
        clip = timed("write a 5 s 480x832 noise clip", lambda: paper_size_clip(root / "big" / "noise.mp4"))
        preview = timed("make_preview of it (256 px VP8 + Opus)", lambda: make_preview(clip, root / "big" / "p.webm"))
        print(f"{'clip / preview size':<44s} {clip.stat().st_size / 1e6:5.2f} / {preview.stat().st_size / 1e6:.2f} MB")
        config = runner.RunConfig(model="noise", out=root / "noise", cases_dir=write_case_set(root / "cases"),
                                  metrics=["dd@farneback", "ms@farneback"], device="cpu", quiet=True)
        timed("run noise (6 cases, 2 classical metrics)", lambda: runner.run(config))
        bundle = timed("write_bundle", lambda: write_bundle(root / "noise", root / "noise.zip"))
        print(f"{'bundle size':<44s} {bundle.stat().st_size / 1e6:7.2f} MB")
        verdict = timed("verify, all 6 cases scored again", lambda: verify(bundle, sample=6, seed=0))
        print(f"{'verify: problems / values compared':<44s} {len(verdict.problems):3d} / {len(verdict.checks)}")


if __name__ == "__main__":
    main()
