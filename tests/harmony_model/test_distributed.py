"""FSDP2 training on CPU (gloo): two torchrun ranks against the single-process trainer.

Every run starts from the same seeded model with its video branch loaded from a random Wan2.2
stand-in folder, and draws the same global batches (2 micro-batches of 1 per step), so the loss
trajectories and weights must agree up to float reduction order. The two-rank runs go through
`torchrun --standalone` (a free port) and the CLI; one-rank runs use the same entry point in this
process with a one-rank gloo group.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harmony_model.config import HarmonyConfig, Stage, TrainConfig
from harmony_model.distributed import ShardingOptions, cpu_fsdp_supported, train_fsdp
from harmony_model.model import HarmonyModel
from harmony_model.train import BatchLayout, batch_layout, train
from harmony_model.video_branch import WanVideoBranch
from tests.harmony_model.conftest import ToySource, micro_config

REPO = Path(__file__).resolve().parents[2]
needs_cpu_fsdp = pytest.mark.skipif(not cpu_fsdp_supported(),
                                    reason=f"FSDP2 on the CPU is not supported by torch {torch.__version__}")
STEPS = 20
TOL = 1e-5  # float32 reduction order: 2 ranks sum gradients in another order than 1


def fsdp_config() -> HarmonyConfig:
    cfg = micro_config()
    t = cfg.train
    t.stages = (Stage("audio", STEPS // 2, trainable=("audio.",)), Stage("joint", STEPS // 2))
    t.batch_size, t.micro_batch_size, t.checkpoint_every = 2, 1, 1000  # checkpoints: at the end only
    t.data, t.data_kwargs = "tests.harmony_model.conftest:make_source", {"seconds": 0.5}
    return cfg


def write_wan_standin(folder: Path, cfg: HarmonyConfig) -> dict[str, torch.Tensor]:
    """A random video branch in the diffusers Wan layout that pretrained.init_video_from_wan reads."""
    from safetensors.torch import save_file

    v = cfg.video
    torch.manual_seed(1234)
    state = {k: t.contiguous() for k, t in WanVideoBranch(v).state_dict().items()}
    folder.mkdir(parents=True)
    save_file(state, str(folder / "diffusion_pytorch_model.safetensors"))
    (folder / "config.json").write_text(json.dumps({
        "num_attention_heads": v.heads, "attention_head_dim": v.dim // v.heads, "num_layers": v.layers,
        "ffn_dim": v.ffn_dim, "in_channels": v.in_channels, "out_channels": v.in_channels,
        "patch_size": list(v.patch_size), "text_dim": v.text_dim, "freq_dim": v.freq_dim, "eps": v.eps,
        "cross_attn_norm": v.cross_attn_norm, "rope_max_seq_len": v.rope_max_seq_len}))
    return state


def torchrun(ranks: int, config: Path, out: Path, *extra: str) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks),
           "-m", "harmony_model.distributed", "--config", str(config), "--out", str(out), "--quiet", *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def one_rank(monkeypatch, cfg: HarmonyConfig, out: Path, steps: int, **kw) -> None:
    """train_fsdp on a one-rank gloo group inside this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"RANK": 0, "LOCAL_RANK": 0, "WORLD_SIZE": 1, "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": port}.items():
        monkeypatch.setenv(key, str(value))
    train_fsdp(cfg, out, kw.pop("options", ShardingOptions()), progress=False, max_steps=steps, **kw)


def losses(out: Path) -> dict[int, dict]:
    rows = [json.loads(line) for line in (out / "loss_log.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows}


def assert_same_losses(a: dict[int, dict], b: dict[int, dict], steps) -> float:
    worst = 0.0
    for step in steps:
        for key in ("total", "joint", "audio_driven", "video_driven"):
            worst = max(worst, abs(a[step][key] - b[step][key]))
    assert worst < TOL, f"loss trajectories differ by {worst}"
    return worst


def load_weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(out / "model" / "model.safetensors"))


def max_weight_difference(a: Path, b: Path) -> float:
    wa, wb = load_weights(a), load_weights(b)
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The config, the Wan stand-in, and a 2-rank FSDP run of STEPS steps initialised from it."""
    root = tmp_path_factory.mktemp("fsdp")
    cfg = fsdp_config()
    cfg.save(root / "config.json")
    write_wan_standin(root / "wan", cfg)
    torchrun(2, root / "config.json", root / "fsdp2", "--wan", str(root / "wan"))
    return {"root": root, "config": root / "config.json", "wan": root / "wan", "fsdp2": root / "fsdp2"}


# ---- the micro-batch layout ----------------------------------------------------------------------
def test_layout_gives_every_rank_its_own_micro_batches():
    layout = [BatchLayout(128, 4, 8, r) for r in range(8)]
    assert [lay.accumulation for lay in layout] == [4] * 8
    assert sorted(s for lay in layout for s in lay.local_shards) == list(range(32))
    stage_batch = batch_layout(TrainConfig(batch_size=16, micro_batch_size=4), Stage(batch_size=128), 8, 7)
    assert stage_batch.local_shards == range(28, 32)  # a stage's own batch (the paper's stages differ)
    with pytest.raises(ValueError, match="cannot be split over 3 ranks"):
        BatchLayout(128, 4, 3, 0)
    with pytest.raises(ValueError, match="micro-batches of 5"):
        BatchLayout(128, 5)


def test_committed_fsdp_configs_split_over_their_ranks():
    from harmony_model.config import paper, tiny

    folder = REPO / "harmony_model" / "configs"
    small = HarmonyConfig.load(folder / "tiny-fsdp.json")
    assert small.video == tiny().video and small.train.data.startswith("harmony_model.synthav")
    assert batch_layout(small.train, small.train.stages[0], 2, 1).accumulation == 2
    big = HarmonyConfig.load(folder / "paper-curriculum.json")
    assert big.video == paper().video and [s.batch_size for s in big.train.stages] == [1536, 1536, 128]
    assert big.train.stages[0].trainable == ("audio.",) and big.train.stages[2].trainable == ()
    for ranks in (1, 8, 16, 64):
        assert [batch_layout(big.train, s, ranks).accumulation for s in big.train.stages] == \
            [1536 // ranks, 1536 // ranks, 128 // ranks]


def test_fsdp_without_torchrun_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(RuntimeError, match="torchrun"):
        train_fsdp(fsdp_config(), tmp_path, ShardingOptions())


# ---- equality with the single-process trainer ----------------------------------------------------
@pytest.mark.slow
@needs_cpu_fsdp
def test_two_rank_fsdp_follows_the_single_process_trajectory(runs, tmp_path):
    cfg = HarmonyConfig.load(runs["config"])
    train(cfg, ToySource(cfg), tmp_path / "single", progress=False, wan_folder=runs["wan"])
    single, sharded = losses(tmp_path / "single"), losses(runs["fsdp2"])
    assert sorted(single) == sorted(sharded) == list(range(1, STEPS + 1))
    worst = assert_same_losses(single, sharded, range(1, STEPS + 1))
    print(f"max loss difference over {STEPS} steps: {worst:.2e}")
    assert single[STEPS]["total"] < single[1]["total"]  # it learns: the comparison is not of constants
    assert max_weight_difference(tmp_path / "single", runs["fsdp2"]) < TOL


@pytest.mark.slow
@needs_cpu_fsdp
def test_stage_one_trains_the_audio_branch_alone_under_fsdp(runs, tmp_path, monkeypatch):
    cfg = HarmonyConfig.load(runs["config"])
    one_rank(monkeypatch, cfg, tmp_path / "run", 3, wan_folder=runs["wan"])
    wan = load_weights(tmp_path / "run")  # EMA after 3 steps of the audio stage
    from safetensors.torch import load_file

    standin = load_file(str(runs["wan"] / "diffusion_pytorch_model.safetensors"))
    for key, value in standin.items():  # the video branch is Wan's, untouched
        torch.testing.assert_close(wan["video." + key], value, rtol=0, atol=1e-6)
    torch.manual_seed(cfg.train.seed)
    init = HarmonyModel(cfg).state_dict()
    assert any(not torch.allclose(wan[k], init[k]) for k in wan if k.startswith("audio."))
    assert all(torch.allclose(wan[k], init[k], atol=1e-6) for k in wan if k.startswith("interactions."))


# ---- reshard on resume -----------------------------------------------------------------------------
@pytest.mark.slow
@needs_cpu_fsdp
def test_checkpoint_of_two_ranks_resumes_on_one_and_of_one_on_two(runs, tmp_path, monkeypatch):
    cfg, wan = HarmonyConfig.load(runs["config"]), str(runs["wan"])
    # 2 -> 1: stop at step 3 (inside the audio stage), continue to 6 (into the joint stage) on one rank
    torchrun(2, runs["config"], tmp_path / "two_one", "--wan", wan, "--steps", "3")
    one_rank(monkeypatch, cfg, tmp_path / "two_one", 12)
    # 1 -> 2, with activation checkpointing on the resumed half (it must not change the numbers)
    one_rank(monkeypatch, cfg, tmp_path / "one_two", 3, wan_folder=wan)
    torchrun(2, runs["config"], tmp_path / "one_two", "--steps", "12", "--activation-checkpointing")
    reference = losses(runs["fsdp2"])
    for out in (tmp_path / "two_one", tmp_path / "one_two"):
        assert sorted(losses(out)) == list(range(1, 13))
        assert_same_losses(reference, losses(out), range(1, 13))
    # weights, AdamW state and EMA all came back: the two routes end in the same exported weights
    assert max_weight_difference(tmp_path / "two_one", tmp_path / "one_two") < TOL


# ---- the exported checkpoint ---------------------------------------------------------------------
@pytest.mark.slow
@needs_cpu_fsdp
def test_exported_checkpoint_loads_in_the_pipeline_and_generates(runs):
    import numpy as np

    from harmony_model.pipeline import GenerationRequest, HarmonyPipeline

    folder = runs["fsdp2"] / "model"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    pipe = HarmonyPipeline.from_pretrained(folder)
    assert pipe.cfg.to_dict() == HarmonyConfig.load(runs["config"]).to_dict()
    out = pipe.generate(GenerationRequest("a flash", "a click", duration=0.5), seed=0)
    assert out.frames.shape[0] == 4 and np.isfinite(out.audio).all()
    assert (runs["fsdp2"] / "checkpoint" / ".metadata").is_file()


@pytest.mark.slow
@needs_cpu_fsdp
def test_bf16_mixed_precision_keeps_fp32_master_weights(runs, tmp_path, monkeypatch):
    cfg = HarmonyConfig.load(runs["config"])
    one_rank(monkeypatch, cfg, tmp_path / "bf16", 2, wan_folder=runs["wan"], options=ShardingOptions("bf16"))
    fp32 = losses(runs["fsdp2"])
    bf16 = losses(tmp_path / "bf16")
    for step in (1, 2):  # bf16 forward: close to, not equal to, the fp32 loss
        assert bf16[step]["total"] == pytest.approx(fp32[step]["total"], rel=0.05)
        assert bf16[step]["total"] != fp32[step]["total"]
    assert all(w.dtype == torch.float32 for w in load_weights(tmp_path / "bf16").values())
