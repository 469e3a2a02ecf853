"""Official backends load random-weight files in the official formats through the real loading
path; wrong, truncated or absent files fail with errors that name the file."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from harmony_bench.weights import WeightsMismatch
from harmony_bench.metrics.base import MetricUnavailable
from harmony_bench.metrics.registry import get_metric
from harmony_bench.metrics.video import manifest
from harmony_bench.metrics.video.checkpoints import CheckpointError

NEEDS_WEIGHTS = ["dd@raft", "ms@raft", "ms@amt-s", "iq@musiq-spaq", "iq@musiq-koniq", "aq@siglip-v2.5", "id@dinov3-vitl16"]
OUTPUT = {"dd@raft": "DD", "ms@raft": "MS", "ms@amt-s": "MS", "iq@musiq-spaq": "IQ", "iq@musiq-koniq": "IQ",
          "aq@siglip-v2.5": "AQ", "id@dinov3-vitl16": "ID"}


@pytest.mark.slow
@pytest.mark.parametrize("key", NEEDS_WEIGHTS)
def test_backend_runs_end_to_end_on_random_weights(key, weights_env, synth, case_with_reference):
    metric = get_metric(key)()
    assert metric.availability() is None
    metric.setup()
    # 4 frames at 24 fps: one DD pair (frames 0, 3), one MS pair (0, 2 vs 1): the least RAFT work
    score = metric.score(synth.clip(synth.translating(n=4)), case_with_reference)
    assert set(score.values) == {o.name for o in metric.outputs}
    assert math.isfinite(score.values[OUTPUT[key]])
    assert all(manifest_name in metric.weights_sha256 for manifest_name in (wf.name for wf in metric.weights))


def test_files_use_the_official_formats(random_weights):
    import torch
    from safetensors import safe_open

    folder, _ = random_weights
    musiq = torch.load(folder / manifest.MUSIQ_SPAQ.name, weights_only=True)
    assert musiq["transformer_encoder.posembed_input.position_emb"].shape[:2] == (1, 100)
    assert {"conv_root.weight", "block1.conv_proj.weight", "embedding.weight", "head.weight",
            "transformer_encoder.transformer.encoderblock_1.attention.query.weight"} <= set(musiq)
    head = torch.load(folder / manifest.AESTHETIC_HEAD.name, weights_only=True)
    assert sorted(head) == sorted(f"scoring_head.{i}.{p}" for i in (0, 2, 4, 6, 8) for p in ("weight", "bias"))
    assert {v.dtype for v in head.values()} == {torch.bfloat16}  # as the published file
    assert [head[f"scoring_head.{i}.weight"].shape[0] for i in (0, 2, 4, 6, 8)] == [1024, 128, 64, 16, 1]
    assert json.loads((folder / manifest.SIGLIP_CONFIG.name).read_text())["model_type"] == "siglip"
    with safe_open(str(folder / manifest.SIGLIP_WEIGHTS.name), "pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("vision_model.") for k in keys) and any(k.startswith("text_model.") for k in keys)
    assert json.loads((folder / manifest.DINOV3_CONFIG.name).read_text())["model_type"] == "dinov3_vit"
    from torchvision.models.optical_flow import raft_large

    raft = torch.load(folder / manifest.RAFT_THINGS.name, weights_only=True)
    assert set(raft) == set(raft_large(weights=None).state_dict())
    from harmony_bench.metrics.video.amt import AMT

    amt = torch.load(folder / manifest.AMT_S.name, weights_only=True)
    assert list(amt) == ["epoch", "state_dict"] and list(amt["state_dict"]) == list(AMT().state_dict())
    assert type(amt).__name__ == "OrderedDict" and isinstance(amt["epoch"], int)  # the AMT trainer's save


def test_missing_file_is_named_and_blocks_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    metric = get_metric("iq@musiq-spaq")()
    assert metric.availability() == f"weights missing: {manifest.MUSIQ_SPAQ.name}"
    with pytest.raises(MetricUnavailable, match="musiq_spaq_ckpt"):
        metric.setup()


def _copy_with_truncated(random_weights, tmp_path, wf):
    src, manifest_path = random_weights
    dst = tmp_path / "weights"
    shutil.copytree(src, dst)
    data = (dst / wf.name).read_bytes()
    (dst / wf.name).write_bytes(data[: len(data) // 2])
    return dst, json.loads(manifest_path.read_text())


def test_truncated_file_fails_the_hash_check_naming_file_and_hash(random_weights, tmp_path, monkeypatch):
    wf = manifest.MUSIQ_KONIQ
    dst, table = _copy_with_truncated(random_weights, tmp_path, wf)
    (tmp_path / "m.json").write_text(json.dumps(table))
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(dst))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "m.json"))
    with pytest.raises(WeightsMismatch) as err:
        get_metric("iq@musiq-koniq")().setup()
    assert wf.name in str(err.value) and table[wf.name] in str(err.value)


def test_truncated_file_without_full_hash_fails_the_name_prefix_naming_file(random_weights, tmp_path, monkeypatch):
    wf = manifest.RAFT_THINGS  # no full sha256: torchvision's prefix in the name catches it
    dst, _ = _copy_with_truncated(random_weights, tmp_path, wf)
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(dst))
    monkeypatch.delenv("HARMONY_BENCH_MANIFEST", raising=False)
    with pytest.raises(WeightsMismatch, match="raft_large_C_T_V1-22a6c225.pth: sha256 .* does not start with 22a6c225"):
        get_metric("dd@raft")().setup()


def test_wrong_checkpoint_for_the_architecture_is_refused(random_weights, tmp_path, monkeypatch):
    src, _ = random_weights
    dst = tmp_path / "weights"
    shutil.copytree(src, dst)
    shutil.copy(dst / manifest.AESTHETIC_HEAD.name, dst / manifest.MUSIQ_SPAQ.name)  # a head where MUSIQ belongs
    from harmony_bench.weights import sha256_of

    # the hash check passed (as for a wrong file pinned by mistake): the loader must still refuse it
    (tmp_path / "m.json").write_text(json.dumps({manifest.MUSIQ_SPAQ.name: sha256_of(dst / manifest.MUSIQ_SPAQ.name)}))
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(dst))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "m.json"))
    with pytest.raises(CheckpointError, match="musiq_spaq_ckpt"):
        get_metric("iq@musiq-spaq")().setup()


def test_listing_the_video_metrics_imports_no_heavy_package():
    import subprocess
    import sys

    code = ("import sys, harmony_bench.metrics.video; from harmony_bench.metrics.registry import all_metric_keys; all_metric_keys(); "
            "print(sorted(m for m in ('torch', 'transformers', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_only_paper_models_are_official():
    official = {k for k in NEEDS_WEIGHTS + ["dd@farneback", "ms@farneback"] if get_metric(k).official}
    assert official == {"dd@raft", "ms@amt-s", "iq@musiq-spaq", "aq@siglip-v2.5", "id@dinov3-vitl16"}
    assert np.all([not get_metric(k).weights for k in ("dd@farneback", "ms@farneback")])
