"""Paper-scale FSDP2 training: memory per rank and step time, computed (not measured).

Parameters are counted on the meta device per FSDP group (one paired layer = video block +
audio block + interaction; the root = everything else). Everything else is arithmetic, stated
with its assumptions in the output:
- Sharded state per rank (fp32): master weights 4, gradients 4, AdamW moments 8, EMA 4 bytes a
  parameter, divided by the number of ranks; with CPU offload it lives in host memory instead.
- Working set on the GPU: the root group unsharded in bf16 for the whole step, two paired layers
  in flight (the current one and the prefetched one) in bf16, and one layer's gradients (bf16 +
  the fp32 copy that is reduce-scattered).
- Activations per token count: a Megatron-style estimate (Korthikanti et al. 2022: 34 bytes x
  hidden per token per transformer layer with fused attention), scaled by this model's FFN width
  and its extra attentions. With activation checkpointing: the layer-boundary tensors of every
  layer, plus one layer recomputed in backward.
- FLOPs: 2 x MACs of every matrix product of one forward, from the configuration; a training step
  is 3 forwards' worth (4 with checkpointing, which recomputes the forward; MFU counts the 3).
  CTS (Eq. 3-4) batches three copies of each sample (joint, audio-driven, video-driven).
- Time: the achieved bf16 rate is calibrated on the measured forward of this model on one H200
  (shared/notes/gpu-findings.md: 0.645 s at 480x832, 1.656 s at 704x1280, batch 1); backward is
  assumed to run at the same rate. Communication and offload transfers are assumed overlapped
  when shorter than compute and are reported beside it.

    python benchmarks/bench_fsdp.py [--out benchmarks/results/fsdp.txt]
"""

from __future__ import annotations

import argparse
import datetime
import platform
from dataclasses import dataclass

GB = 1e9
GIB = 2**30
H200_GIB = 139.0  # usable HBM of the H200 the project measured on (device README)
HEADROOM = 0.9  # allocator fragmentation, CUDA context, NCCL buffers
H200_PEAK_BF16 = 989e12  # dense bf16 FLOP/s (NVIDIA H200 SXM datasheet)
PCIE_BYTES_PER_S = 50e9  # host <-> GPU, PCIe Gen5 x16 in practice
HOST_ADAM_BYTES_PER_S = 100e9  # CPU AdamW: streaming 28 bytes a parameter through host memory
LINK_BYTES_PER_S = {"NVLink (1 node)": 350e9, "InfiniBand 400 Gb/s per GPU": 45e9}
PAPER_BATCH = 128
MEASURED_FORWARD_S = {(480, 832): 0.645, (704, 1280): 1.656}  # gpu-findings.md, plain step, batch 1
RANKS = (1, 8, 16, 64)


@dataclass(frozen=True)
class Shape:
    """Token counts of one 5 s sample (one copy; CTS runs three)."""

    height: int
    width: int
    video: int  # video tokens: 31 latent frames x (H/16/2) x (W/16/2)
    audio: int  # target audio latents (5 s at 31.25 Hz)
    ref: int  # reference audio latents (2 s)
    context: int  # transcript + audio caption tokens of the MM-DiT text stream
    text: int  # video caption tokens

    @staticmethod
    def at(height: int, width: int) -> "Shape":
        return Shape(height, width, 31 * (height // 32) * (width // 32), 156, 62, 1024, 512)

    @property
    def label(self) -> str:
        return f"{self.height}x{self.width}, 5 s"


@dataclass(frozen=True)
class Model:
    dim: int
    ffn: int
    layers: int
    text_dim: int
    params: int
    root: int  # parameters of the root FSDP group
    layer: int  # parameters of one paired-layer group


def count_parameters() -> Model:
    import torch

    from harmony_model.config import paper
    from harmony_model.distributed import paired_layers
    from harmony_model.model import HarmonyModel

    cfg = paper()
    with torch.device("meta"):
        model = HarmonyModel(cfg)
    total = sum(p.numel() for p in model.parameters())
    layer = sum(p.numel() for m in paired_layers(model)[0] for p in m.parameters())
    return Model(cfg.video.dim, cfg.video.ffn_dim, cfg.layers, cfg.video.text_dim, total,
                 total - cfg.layers * layer, layer)


# ---- FLOPs ---------------------------------------------------------------------------------------
def forward_flops(m: Model, s: Shape) -> float:
    """2 x MACs of one forward of one copy of one sample (all matrix products; attention over the
    full query x key grid, as SDPA computes it under the band masks too)."""
    d, f = m.dim, m.ffn
    nv, na, nc = s.video, s.audio + s.ref, s.context
    video_block = 4 * d * d * nv + 2 * nv * nv * d + 2 * d * d * (nv + s.text) + 2 * nv * s.text * d + 2 * d * f * nv
    audio_block = 4 * d * d * (na + nc) + 2 * (na + nc) ** 2 * d + 2 * d * f * (na + nc)
    interaction = (2 * d * d * (nv + s.audio) + 2 * nv * s.audio * d) * 2 + 2 * d * d * (s.ref + nv) \
        + 2 * s.ref * nv * d
    embed = 2 * 2 * (m.text_dim * d + d * d) * max(s.text, s.context)  # the two caption projections
    return 2.0 * (m.layers * (video_block + audio_block + interaction) + embed)


# ---- memory --------------------------------------------------------------------------------------
def sharded_state_bytes(m: Model) -> float:
    """fp32 master weights + gradients + AdamW moments + EMA, whole model (divide by ranks)."""
    return (4 + 4 + 8 + 4) * m.params


def working_set_bytes(m: Model) -> float:
    return 2 * m.root + 2 * 2 * m.layer + (2 + 4) * m.layer


def activation_bytes(m: Model, s: Shape, copies: int, checkpointing: bool) -> float:
    """bf16 activations kept for backward, for `copies` sample copies in one micro-batch."""
    d, scale = m.dim, (15 + 19 * m.ffn / (4 * m.dim)) / 34  # FFN share of the 34 scaled to its width
    nv, na = s.video, s.audio + s.ref + s.context
    per_layer = 34 * scale * d * (nv + na) + 11 * d * nv + 19 * d * nv  # + caption cross-attn, interaction
    shared = 4 * 6 * d * (nv + s.audio + s.ref)  # fp32 per-token modulation, one tensor for all layers
    if not checkpointing:
        return copies * (m.layers * per_layer + shared)
    boundary = 2 * d * (2 * nv + 2 * (s.audio + s.ref) + s.context)  # block / interaction inputs, bf16
    return copies * (m.layers * boundary + per_layer + shared)


# ---- time ----------------------------------------------------------------------------------------
def achieved_rate(m: Model) -> dict[tuple[int, int], float]:
    """FLOP/s of the measured bf16 forwards (batch 1, one copy) on one H200."""
    return {hw: forward_flops(m, Shape.at(*hw)) / sec for hw, sec in MEASURED_FORWARD_S.items()}


@dataclass
class StepEstimate:
    micro_seconds: float  # compute of one micro-batch (forward + backward [+ recompute])
    comm_seconds: float  # collectives of one micro-batch on the slowest link
    step_seconds: float  # one optimiser step of the paper's batch
    tokens_per_s: float  # per GPU, video + audio latent tokens of the samples (not the CTS copies)
    mfu: float


def estimate(m: Model, s: Shape, rate: float, ranks: int, micro: int, copies: int, checkpointing: bool,
             link: float, offload: bool) -> StepEstimate:
    fwd = forward_flops(m, s) * copies * micro
    model_flops = 3 * fwd
    compute = (4 if checkpointing else 3) * fwd / rate
    if offload:  # bf16 weights in twice (forward, backward), fp32 gradients out once, over PCIe
        comm = (2 * 2 + 4) * m.params / PCIE_BYTES_PER_S
    else:  # all-gather bf16 weights twice, reduce-scatter fp32 gradients once; (N-1)/N of it crosses
        comm = (2 * 2 + 4) * m.params * (ranks - 1) / ranks / link if ranks > 1 else 0.0
    micro_s = max(compute, comm)
    accumulation = PAPER_BATCH // (ranks * micro)
    optimizer = 28 * m.params / HOST_ADAM_BYTES_PER_S if offload else 0.0
    step = accumulation * micro_s + optimizer
    tokens = PAPER_BATCH // ranks * (s.video + s.audio)
    return StepEstimate(compute, comm, step, tokens / step, model_flops * accumulation / step / H200_PEAK_BF16)


# ---- report --------------------------------------------------------------------------------------
def gib(x: float) -> str:
    return f"{x / GIB:7.1f}"


def report(m: Model) -> list[str]:
    budget = H200_GIB * HEADROOM * GIB
    rates = achieved_rate(m)
    copies = 3  # CTS stage 3; stages 1-2 (lambda_v = 0) batch two copies
    lines = [
        f"parameters: {m.params / 1e6:,.1f} M; one paired-layer FSDP group {m.layer / 1e6:,.1f} M "
        f"(x {m.layers}); root group {m.root / 1e6:,.1f} M (embedders, transcript encoder, output heads)",
        f"calibration (measured forward, bf16, batch 1, one H200): "
        + "; ".join(f"{h}x{w}: {forward_flops(m, Shape.at(h, w)) / 1e12:,.0f} TFLOP in {sec} s = "
                    f"{rates[(h, w)] / 1e12:,.0f} TFLOP/s ({rates[(h, w)] / H200_PEAK_BF16:.0%} of "
                    f"{H200_PEAK_BF16 / 1e12:,.0f})" for (h, w), sec in MEASURED_FORWARD_S.items()),
        "measured FSDP step time and memory: not measured (no GPU lent to this task)",
        f"GPU budget: {H200_GIB:.0f} GiB x {HEADROOM} headroom = {budget / GIB:.0f} GiB; "
        f"sharded fp32 state (weights, grads, AdamW, EMA) = {sharded_state_bytes(m) / GIB:,.0f} GiB in all",
        "frozen umT5-XXL caption encoder, replicated on every rank: +10.6 GiB bf16 (not in the figures; "
        "precomputed caption features avoid it)",
        "",
    ]
    for hw in MEASURED_FORWARD_S:
        s = Shape.at(*hw)
        lines.append(f"== {s.label}: {s.video:,} video + {s.audio + s.ref} audio + {s.context} text-stream tokens "
                     f"a copy, {copies} CTS copies a sample; micro-batch 1 sample per rank; GiB per rank ==")
        lines.append(f"{'ranks':>5} {'sharded':>8} {'working':>8} {'act.':>8} {'act.+AC':>8} {'total':>8} "
                     f"{'tot.+AC':>8}  {'fits':>6}  step(AC) NVLink / IB    tokens/s/GPU  MFU (computed)")
        for ranks in RANKS:
            state = sharded_state_bytes(m) / ranks
            work = working_set_bytes(m)
            act, act_ac = (activation_bytes(m, s, copies, ac) for ac in (False, True))
            fits = ("yes" if state + work + act <= budget else "AC" if state + work + act_ac <= budget else "no")
            steps = [estimate(m, s, rates[hw], ranks, 1, copies, True, link, False)
                     for link in LINK_BYTES_PER_S.values()]
            lines.append(f"{ranks:>5} {gib(state)} {gib(work)} {gib(act)} {gib(act_ac)} {gib(state + work + act)} "
                         f"{gib(state + work + act_ac)}  {fits:>6}  {steps[0].step_seconds:7.0f} s / "
                         f"{steps[1].step_seconds:5.0f} s  {steps[0].tokens_per_s:12.0f}  {steps[0].mfu:.0%}")
        for ranks in (8, 64):
            e = estimate(m, s, rates[hw], ranks, 1, copies, True, LINK_BYTES_PER_S["NVLink (1 node)"], False)
            lines.append(f"stage 3 (10,000 steps of batch {PAPER_BATCH}) on {ranks} GPUs: "
                         f"{10_000 * e.step_seconds / 86400:.1f} days (computed estimate)")
        lines.append("")
    lines += offload_report(m, rates, copies, budget)
    return lines


def offload_report(m: Model, rates: dict, copies: int, budget: float) -> list[str]:
    """One GPU, sharded state in host memory (CPUOffloadPolicy): the largest micro-batch that fits."""
    lines = ["== one GPU with CPU offload (fully_shard(offload_policy=CPUOffloadPolicy())), activation "
             "checkpointing; computed estimate ==",
             f"host memory for the sharded state: {sharded_state_bytes(m) / GIB:,.0f} GiB; GPU: working set "
             f"{working_set_bytes(m) / GIB:.1f} GiB + activations"]
    for hw in MEASURED_FORWARD_S:
        s = Shape.at(*hw)
        per_sample = activation_bytes(m, s, copies, True)
        micro = int((budget - working_set_bytes(m)) // per_sample)
        if micro < 1:
            lines.append(f"{s.label}: does not fit ({per_sample / GIB:.1f} GiB of activations a sample)")
            continue
        e = estimate(m, s, rates[hw], 1, micro, copies, True, 0.0, True)
        lines.append(f"{s.label}: largest micro-batch {micro} samples ({micro * copies} copies, "
                     f"{(working_set_bytes(m) + micro * per_sample) / GIB:.0f} GiB); compute {e.micro_seconds:.1f} s "
                     f"vs PCIe transfers {e.comm_seconds:.1f} s a micro-batch; batch {PAPER_BATCH} in "
                     f"{e.step_seconds / 60:.1f} min (incl. {28 * m.params / HOST_ADAM_BYTES_PER_S:.1f} s CPU AdamW); "
                     f"{e.tokens_per_s:,.0f} tokens/s; MFU {e.mfu:.0%} (computed estimate)")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="also write the report to this file")
    args = ap.parse_args(argv)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    lines = [f"# python benchmarks/bench_fsdp.py   ({stamp}; {platform.machine()}, computed on the meta device, "
             "no GPU lent to this task)"] + report(count_parameters())
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
