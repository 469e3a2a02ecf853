"""Acceptance: with no weights every official metric says which file it lacks; with random-weight
files in the official formats, every official backend runs end to end through `evaluate`."""

import importlib
import json

import numpy as np
import pytest

from harmony_bench.cli import main
from harmony_bench.store import load_results
from harmony_bench.weights import OVERRIDE_MARK
from harmony_bench.metrics.registry import all_metric_keys, get_metric
from tests.conftest import TINY_CASES, write_case_set

WRITERS = ("harmony_bench.metrics.video.testing", "harmony_bench.metrics.audio.testing", "harmony_bench.metrics.sync.testing")


@pytest.fixture
def face_cases(tmp_path):
    """One case per subset, 5 s long, whose reference image is a drawn face (SyncNet needs one)."""
    from PIL import Image

    from harmony_model.synthav.render import draw_face

    root = write_case_set(tmp_path / "cases", [TINY_CASES[0], TINY_CASES[2], TINY_CASES[4]], duration=5.0)
    for cid in ("sp-001", "cx-001"):
        Image.fromarray(draw_face(256, 0.3)).save(root / "assets" / cid / "ref.png")
    return root


@pytest.fixture
def face_clips(face_cases, tmp_path):
    """Small clips (128 px, RAFT's minimum; 10 fps; 5 s) of a face whose mouth moves with a tone,
    so every official backend has something to score and the random-weight run stays quick
    (metrics that score every frame, like MUSIQ, cost per frame; 25 fps ones resample)."""
    from harmony_bench.cases import load_cases
    from harmony_bench.media import write_clip
    from harmony_model.synthav.render import draw_face

    folder = tmp_path / "clips"
    t = np.arange(5 * 16000) / 16000
    gate = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32)
    audio = 0.3 * gate * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    frames = np.stack([draw_face(128, float(gate[int(i / 10 * 16000)])) for i in range(50)])
    for case in load_cases(face_cases):
        write_clip(folder / f"{case.id}.mp4", frames, 10, audio, 16000)
    return folder


def _official_keys() -> list[str]:
    return [k for k in all_metric_keys() if get_metric(k).official]


@pytest.mark.slow
def test_without_weights_official_metrics_name_the_missing_file(face_cases, tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path / "empty"))
    out = tmp_path / "run"
    main(["evaluate", "--model", "static", "--cases", str(face_cases), "--out", str(out), "--quiet",
          "--metrics", ",".join(_official_keys())])
    df = load_results(out)
    for key in _official_keys():
        rows = df[df.metric_key == key]
        assert len(rows), key
        assert (rows.status == "unavailable").all(), key
        assert rows.error.str.contains("weights missing: |package missing: ", regex=True).all(), key
        assert rows.value.isna().all()


@pytest.mark.slow
def test_official_backends_run_on_random_weights(face_cases, face_clips, tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    manifest = {}
    for module in WRITERS:
        manifest.update(importlib.import_module(module).write_random_weights(folder))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(folder))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "manifest.json"))
    out = tmp_path / "run"
    keys = [k for k in _official_keys() if not get_metric(k)().availability()]
    skipped = sorted(set(_official_keys()) - set(keys))
    # Only a missing optional package may keep an official backend from running here.
    for k in skipped:
        assert get_metric(k)().availability().startswith("package missing"), k
    code = main(["evaluate", "--model", f"dir:{face_clips}", "--cases", str(face_cases), "--out", str(out),
                 "--quiet", "--metrics", ",".join(keys)])
    df = load_results(out)
    bad = df[df.status.isin(["error", "unavailable"])]
    assert bad.empty, bad[["case_id", "metric_key", "error"]].to_string()
    assert code == 0
    for key in keys:
        rows = df[df.metric_key == key]
        assert (rows.status == "ok").any(), f"{key}: {rows.error.dropna().unique()}"
        loaded = dict(p.split("=", 1) for p in rows.weights_sha256.iloc[0].split(";"))
        assert loaded.pop(OVERRIDE_MARK) == "1"  # the reports keep these rows out of the paper columns
        assert loaded and set(loaded.values()) <= set(manifest.values())
        assert np.isfinite(rows[rows.status == "ok"].value).all()

    from harmony_bench.reports.runs import protocol_status

    row = df[df.status == "ok"].iloc[0]
    comparable, note = protocol_status(row.metric_key, True, row.protocol_version, row.weights_sha256)
    assert not comparable and "override manifest" in note
