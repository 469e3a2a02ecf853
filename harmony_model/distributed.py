"""Sharded training with PyTorch FSDP2 (`torch.distributed.fsdp.fully_shard`), launched by torchrun.

    python -m torch.distributed.run --nproc_per_node 8 -m harmony_model.distributed \
        --config C.json --out DIR --device cuda

The loop is `train.Trainer`'s; what changes:
- Sharding unit = one paired layer: video block i, audio block i and interaction i form one FSDP
  group (one all-gather, one reduce-scatter). Everything else (embedders, caption encoder, output
  heads) is the root group, whose module is `train.CTSObjective` so that the root runs first.
- Mixed precision: bf16 parameters in forward/backward, fp32 gradient reduction, fp32 sharded
  master weights, AdamW state and EMA (`MixedPrecisionPolicy`). The gloo backend (CPU) runs the
  fp32 policy in the tests; bf16 on gloo works too but is only smoke-tested.
- Activation checkpointing (option): each block and interaction is recomputed in backward.
- Data: every rank draws its own micro-batches of the global batch (`train.BatchLayout`), each
  with its own seed; gradients of a rank's micro-batches accumulate, FSDP averages over ranks.
- Start: rank 0 builds the model (seeded as the single-process trainer does) and, with `--wan`,
  loads Wan2.2 into the video branch; the others build it on the meta device; the full state is
  broadcast into the shards (`set_model_state_dict(broadcast_from_rank0=True)`).
- Checkpoints: `OUT/checkpoint/` is a torch.distributed.checkpoint folder (weights, AdamW state and
  EMA as sharded tensors, and the step), which loads on any number of ranks; `OUT/model/` is the
  EMA exported as model.safetensors + config.json, the same folder the single-process run writes.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_state_dict, set_model_state_dict,
                                                     set_state_dict)
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor

from harmony_model.config import HarmonyConfig
from harmony_model.model import HarmonyModel
from harmony_model.pretrained import init_video_from_wan
from harmony_model.train import CTSObjective, DataSource, Trainer, arg_parser, export_ema, load_config, load_data

CHECKPOINT_DIR = "checkpoint"


@dataclass(frozen=True)
class ShardingOptions:
    precision: Literal["fp32", "bf16"] = "fp32"
    activation_checkpointing: bool = False

    def mp_policy(self) -> MixedPrecisionPolicy:
        if self.precision == "fp32":
            return MixedPrecisionPolicy()
        # the model casts its own inputs (RoPE tables and modulation stay fp32 inside the blocks)
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32,
                                    cast_forward_inputs=False)


def cpu_fsdp_supported() -> bool:
    """FSDP2 records events on the device's streams; torch 2.6's CPU stream cannot."""
    return hasattr(torch.get_device_module("cpu").current_stream(), "record_event")


def init_process_group(device: str) -> tuple[DeviceMesh, torch.device]:
    """The torchrun process group and a 1-D mesh over all ranks; cuda ranks take cuda:LOCAL_RANK."""
    if "RANK" not in os.environ:
        raise RuntimeError("sharded training needs the torchrun environment (RANK, WORLD_SIZE, MASTER_ADDR...): "
                           "launch with `python -m torch.distributed.run --nproc_per_node N "
                           "-m harmony_model.distributed ...`")
    cuda = device.startswith("cuda")
    if not cuda and not cpu_fsdp_supported():
        raise RuntimeError(f"FSDP2 cannot run on the CPU with torch {torch.__version__} (its CPU streams "
                           "record no events); use CUDA, or a newer torch (2.14 is tested on CPU)")
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(minutes=30))
    dev = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    return init_device_mesh(dev.type, (dist.get_world_size(),)), dev


def paired_layers(model: HarmonyModel) -> list[list[nn.Module]]:
    """[video block i, audio block i, interaction i] for every layer: one FSDP group each."""
    return [[model.video.blocks[i], model.audio.blocks[i]]
            + ([model.interactions[i]] if model.interactions is not None else [])
            for i in range(model.cfg.layers)]


def checkpoint_activations(module: nn.Module) -> None:
    """Recompute `module` in backward (composable checkpoint: parameter names stay as they are)."""
    from torch.distributed._composable import checkpoint

    checkpoint(module)
    # The recomputation calls the module again with the arguments of the first call. The model
    # updates its token containers (AudioTokens.x / .ctx) after each block, so a container would
    # hold later tensors by then: hand the block a shallow copy that nothing updates.
    module.register_forward_pre_hook(_copy_dataclass_args, prepend=True)


def _copy_dataclass_args(module: nn.Module, args: tuple) -> tuple:
    return tuple(copy.copy(a) if dataclasses.is_dataclass(a) else a for a in args)


def shard(model: HarmonyModel, mesh: DeviceMesh, options: ShardingOptions) -> CTSObjective:
    """Apply activation checkpointing and FSDP2 in place; returns the root (the loss module)."""
    policy = options.mp_policy()
    for group in paired_layers(model):
        if options.activation_checkpointing:
            for module in group:
                checkpoint_activations(module)
        fully_shard(group, mesh=mesh, mp_policy=policy)
    return fully_shard(CTSObjective(model), mesh=mesh, mp_policy=policy)


def build_sharded_model(cfg: HarmonyConfig, mesh: DeviceMesh, options: ShardingOptions,
                        wan_folder: str | Path | None = None) -> tuple[HarmonyModel, CTSObjective]:
    """Meta-device model on every rank, sharded, then filled from rank 0's full model."""
    with torch.device("meta"):
        model = HarmonyModel(cfg)
    root = shard(model, mesh, options)
    full: dict[str, torch.Tensor] = {}
    if dist.get_rank() == 0:
        torch.manual_seed(cfg.train.seed)  # the same initial weights as the single-process trainer
        source = HarmonyModel(cfg)
        if wan_folder:
            init_video_from_wan(source, wan_folder)
        full = source.state_dict()
        del source
    with warnings.catch_warnings():  # torch asks the group for a default device, deprecated but right here
        warnings.filterwarnings("ignore", message=".*(_get_pg_default_device|Multiple backends are registered)")
        set_model_state_dict(model, full, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
    return model, root


def gather_full(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Full tensors on rank 0's CPU (empty dict elsewhere); one tensor at a time to bound memory."""
    out = {}
    for key, value in state.items():
        full = value.full_tensor() if isinstance(value, DTensor) else value
        if dist.get_rank() == 0:
            out[key] = full.detach().cpu()
        del full
    return out


class FSDPTrainer(Trainer):
    """`Trainer` over all ranks of the process group; every method is called on every rank."""

    def __init__(self, cfg: HarmonyConfig, data: DataSource, out_dir: str | Path, mesh: DeviceMesh,
                 device: torch.device, options: ShardingOptions, wan_folder: str | Path | None = None):
        self.mesh, self.options = mesh, options
        self.world, self.rank = dist.get_world_size(), dist.get_rank()
        super().__init__(cfg, data, out_dir, str(device), wan_folder)
        t5 = self.model.external_caption_encoder
        if t5 is not None and options.precision == "bf16":
            t5.to(torch.bfloat16)  # frozen and replicated on every rank: 10.6 GiB instead of 21

    def _build_model(self, wan_folder: str | Path | None) -> tuple[HarmonyModel, nn.Module]:
        return build_sharded_model(self.cfg, self.mesh, self.options, wan_folder)

    def _mean_over_ranks(self, parts: dict[str, torch.Tensor]) -> dict[str, float]:
        keys = list(parts)
        stacked = torch.stack([parts[k] for k in keys]).to(self.device)
        dist.all_reduce(stacked)
        return {k: float(v) / self.world for k, v in zip(keys, stacked)}

    # ---- state ------------------------------------------------------------------------------
    def _app_state(self) -> dict:
        model_sd, optim_sd = get_state_dict(self.model, self.opt)
        frozen = [k for k in model_sd if k.startswith("external_caption_encoder.")]
        for k in frozen:
            del model_sd[k]
        return {"model": model_sd, "optimizer": optim_sd, "ema": self.ema, "step": self.step}

    def save(self) -> None:
        """Collective: the sharded checkpoint (replacing the last one) and the exported EMA."""
        final, tmp = self.out / CHECKPOINT_DIR, self.out / (CHECKPOINT_DIR + ".part")
        if self.is_main:
            shutil.rmtree(tmp, ignore_errors=True)
        dist.barrier()
        dcp.save(self._app_state(), checkpoint_id=str(tmp))
        ema = gather_full(self.ema)
        if self.is_main:  # export first, as in Trainer.save
            export_ema(self.cfg, ema, self.out / "model")
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        dist.barrier()

    def resume(self) -> bool:
        path = self.out / CHECKPOINT_DIR
        if not (path / ".metadata").is_file():
            return False
        state = self._app_state()
        dcp.load(state, checkpoint_id=str(path))
        set_state_dict(self.model, self.opt, model_state_dict=state["model"], optim_state_dict=state["optimizer"],
                       options=StateDictOptions(strict=self.cfg.caption.kind != "t5"))
        self.step = int(state["step"])
        return True


def train_fsdp(cfg: HarmonyConfig, out_dir: str | Path, options: ShardingOptions, resume: bool = True,
               device: str = "cpu", progress: bool = True, max_steps: int | None = None,
               wan_folder: str | Path | None = None, data: DataSource | None = None) -> Path | None:
    """Sharded training on every torchrun rank; returns the EMA checkpoint folder on rank 0."""
    mesh, dev = init_process_group(device)
    try:
        # rank 0 first: a data source may build a cache that the other ranks then read
        if dist.get_rank() == 0:
            data = load_data(cfg, data)
        dist.barrier()
        if dist.get_rank() != 0:
            data = load_data(cfg, data)
        out = Path(out_dir)
        resuming = resume and (out / CHECKPOINT_DIR / ".metadata").is_file()
        trainer = FSDPTrainer(cfg, data, out, mesh, dev, options, None if resuming else wan_folder)
        if resuming:
            trainer.resume()
        folder = trainer.run(progress, max_steps)
        return folder if trainer.is_main else None
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    """`python -m harmony_model.distributed`: `python -m harmony_model.train`'s options, sharded over every
    torchrun rank (gloo on cpu, nccl on cuda; each rank takes cuda:LOCAL_RANK)."""
    ap = arg_parser("python -m harmony_model.distributed")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default=None,
                    help="parameter dtype in forward/backward; master weights and gradient reduction stay "
                         "fp32 (default: bf16 on cuda, fp32 on cpu)")
    ap.add_argument("--activation-checkpointing", action="store_true",
                    help="recompute each block and interaction in backward instead of keeping activations")
    args = ap.parse_args(argv)
    options = ShardingOptions(args.precision or ("bf16" if args.device.startswith("cuda") else "fp32"),
                              args.activation_checkpointing)
    folder = train_fsdp(load_config(args), args.out, options, resume=not args.fresh, device=args.device,
                        progress=not args.quiet, max_steps=args.steps, wan_folder=args.wan)
    if folder is not None:  # rank 0
        print(f"checkpoint: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
