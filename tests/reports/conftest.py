"""Fabricated run folders for the report tests, written through the real store and clip writer.

The metric manifest is replaced by a small table (key -> version and weight files) so the
protocol checks can be exercised without any real metric installed.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import harmony_bench.reports.runs
from harmony_bench.media import write_clip
from harmony_bench.store import ClipRow, ResultRow, Store
from harmony_bench.weights import WeightFile
from tests.conftest import write_case_set

PINNED = "a" * 64
OTHER = "b" * 64

# key -> (official, version, {weight name: manifest sha256 or None})
MANIFEST = {
    "aq@official": (True, "1", {"aq.safetensors": PINNED}),
    "dd@raft": (True, "1", {"raft.pth": PINNED}),
    "dd@farneback": (False, "1", {}),
    "sync@syncnet": (True, "1", {"syncnet.pth": None}),  # no public hash: "unpinned"
    "wer@whisper": (True, "1", {"whisper.pt": PINNED}),
    "wer@whisper+norm": (True, "1", {"whisper.pt": PINNED}),  # a second official WER protocol
    "ib@imagebind": (True, "1", {"imagebind.pth": PINNED}),
    "avscore@official": (True, "1", {"av.pth": PINNED}),  # official, but its output is no paper column
}

# Outputs each fake metric stores: (output, direction, paper column?, subsets)
OUTPUTS = {
    "aq@official": [("AQ", "higher", True, {"ambient", "speech", "complex"})],
    "dd@raft": [("DD", "higher", True, {"ambient", "speech", "complex"}),
                ("DD-motion", "higher", False, {"ambient", "speech", "complex"})],
    "dd@farneback": [("DD", "higher", True, {"ambient", "speech", "complex"})],
    "sync@syncnet": [("Sync-C", "higher", True, {"speech", "complex"}),
                     ("Sync-D", "lower", True, {"speech", "complex"})],
    "wer@whisper": [("WER", "lower", True, {"speech", "complex"}), ("WER-words", "lower", False, {"speech", "complex"})],
    "wer@whisper+norm": [("WER", "lower", True, {"speech", "complex"}),
                         ("WER-words", "lower", False, {"speech", "complex"})],
    "ib@imagebind": [("IB", "higher", True, {"ambient", "speech", "complex"})],
    "avscore@official": [("AV-score", "higher", True, {"ambient", "speech", "complex"})],
}

HOSTILE = 'A cat <script>alert("x")</script> & a "door" slams'
HOSTILE_MODEL = '<script>alert("model")</script>*m*'
HOSTILE_REASON = 'no face <script>alert("reason")</script> | found'

CASES = (
    [{"id": f"amb-00{i}", "subset": "ambient", "video_caption": f"A ball bounces {i} times.",
      "audio_caption": f"{i} thuds."} for i in range(1, 5)]
    + [{"id": f"sp-00{i}", "subset": "speech", "video_caption": "a man is speaking",
        "spoken_word_en": f"Sentence number {i} is spoken.", "language": "en", "source": "synthetic"}
       for i in range(1, 4)]
    + [{"id": f"sp-00{i}", "subset": "speech", "video_caption": "a woman is speaking",
        "spoken_word_zh": "今天天气很好。", "language": "zh", "source": "real-world"} for i in range(4, 6)]
    + [{"id": f"cx-00{i}", "subset": "complex", "video_caption": HOSTILE if i == 1 else f"A man talks ({i}).",
        "audio_caption": "A door slams.", "spoken_word_en": "Did you hear that?", "language": "en"}
       for i in range(1, 5)]
)


def fake_metric_class(key: str):
    if key not in MANIFEST:
        return None
    _, version, weights = MANIFEST[key]
    return SimpleNamespace(version=version, weights=tuple(WeightFile(n, s, "test", "test") for n, s in weights.items()))


REAL_METRIC_CLASS = harmony_bench.reports.runs.metric_class


@pytest.fixture(autouse=True)
def fake_manifest(monkeypatch):
    monkeypatch.setattr("harmony_bench.reports.runs.metric_class", fake_metric_class)


def case_value(key: str, output: str, case_id: str, shift: float) -> float:
    """Deterministic per (metric, output, case) values, plus a run-specific shift."""
    rng = np.random.default_rng(zlib.crc32(f"{key}/{output}/{case_id}".encode()))
    base = {"WER": 0.2, "Sync-D": 9.0, "Sync-C": 4.0}.get(output, 0.5)
    return float(base + 0.1 * rng.standard_normal() + shift)


def edit_counts(case_id: str) -> dict:
    """WER edit counts of a clip; clips differ in length so corpus and per-clip rates differ."""
    h = zlib.crc32(case_id.encode())
    return {"reference_units": 3 + h % 7, "substitutions": h % 3, "deletions": (h >> 3) % 2, "insertions": 0}


def make_run(root: Path, name: str, model: str = "tiny", shift: float = 0.0, weights_hash: str = PINNED,
             cases=CASES, clips: bool = True, reason: str = "no face found") -> Path:
    """A run folder: case set, clips, run.json and results.sqlite with the fake metrics' rows.

    `shift` is added to every AQ value; `weights_hash` is what the AQ backend "loaded"; `reason`
    is why Sync could not score cx-004.
    """
    case_dir = write_case_set(root / f"{name}-cases", cases=cases)
    run_dir = root / name
    (run_dir / "clips").mkdir(parents=True)
    case_set = "set-" + str(len(cases))
    (run_dir / "run.json").write_text(json.dumps({"run_id": name, "model": model, "cases_dir": str(case_dir),
                                                  "case_set_sha256": case_set, "seed": 0}))
    with Store(run_dir, create=True) as store:
        store.set_meta("cases_dir", str(case_dir))
        store.set_meta("model_name", model)
        for case in cases:
            clip = _clip(run_dir, name, model, case) if clips else None
            store.write_case(_rows(name, model, case, shift, weights_hash, reason), clip)
    return run_dir


def _clip(run_dir: Path, run_id: str, model: str, case: dict) -> ClipRow:
    t = np.arange(8000) / 8000
    audio = (0.3 * np.sin(2 * np.pi * 330 * t) * np.exp(-3 * t)).astype(np.float32)
    frames = np.full((8, 32, 32, 3), 90, np.uint8)
    video = write_clip(run_dir / "clips" / f"{case['id']}.mp4", frames, 8, audio, 8000)
    return ClipRow(run_id, model, case["id"], case["subset"], str(video), str(video.with_suffix(".wav")), "ok")


def _rows(run_id: str, model: str, case: dict, shift: float, weights_hash: str, reason: str) -> list[ResultRow]:
    rows = []
    for key, outputs in OUTPUTS.items():
        official, version, weights = MANIFEST[key]
        loaded = weights_hash if key == "aq@official" else PINNED
        if key == "ib@imagebind":
            loaded = OTHER  # random test weights: official code path, not the manifest's file
        stamp = ";".join(f"{n}={loaded}" for n in weights)
        for output, direction, paper, subsets in outputs:
            if case["subset"] not in subsets:
                continue
            status, value, error = "ok", case_value(key, output, case["id"], shift if output == "AQ" else 0.0), None
            details = {}
            if output.startswith("WER"):
                details = edit_counts(case["id"])
                errors = details["substitutions"] + details["deletions"] + details["insertions"]
                value = errors / details["reference_units"]
            if output == "WER-words" and case.get("language") == "zh":  # a sentence is one token: another scale
                details, value = {}, value + 2.0
            if key == "sync@syncnet" and case["id"] == "cx-004":
                status, value, error = "unscorable", None, reason
            rows.append(ResultRow(run_id, model, case["id"], case["subset"], key, output, output, paper, direction,
                                  key.split("@")[1], official, version, stamp, value, status, error, details, seed=0))
    return rows


@pytest.fixture(scope="session")
def run_pair(tmp_path_factory) -> tuple[Path, Path]:
    """Two runs on the same cases; run B's AQ is 0.3 higher on every case."""
    root = tmp_path_factory.mktemp("runs")
    return make_run(root, "run-a", "model-a"), make_run(root, "run-b", "model-b", shift=0.3)
