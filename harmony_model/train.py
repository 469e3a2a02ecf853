"""Training: Cross-Task Synergy flow matching over curriculum stages (section 3.2, appendix B).

    python -m harmony_model.train --config tiny.json --out runs/tiny [--data module:factory]

The data source is any object with `sample_batch(batch_size, generator, **stage.data_options)`
returning the batch dict described in harmony_model/README.md; `--data` (or `train.data` in the
config) names a factory `f(cfg: HarmonyConfig, **train.data_kwargs)` that builds it. A step's
global batch is cut into micro-batches of `train.micro_batch_size` whose gradients accumulate; each
is drawn with a generator seeded by (seed, step, micro-batch), so a resumed run continues exactly
where it stopped, on any number of ranks. `python -m harmony_model.distributed` (same options)
shards the same loop over torchrun ranks; `--steps N` stops at step N; `--wan FOLDER` starts the video
branch from Wan2.2.

Output folder: `model/` (EMA weights + config, what the sampler loads), `train_state.pt`
(raw weights, EMA, optimiser, step; loads with weights_only=True), `loss_log.jsonl`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from harmony_model.codecs import AudioCodec, VideoCodec
from harmony_model.config import HarmonyConfig, Stage, TrainConfig
from harmony_model.losses import Latents, Noise, cts_loss
from harmony_model.model import HarmonyModel
from harmony_model.pretrained import build_codecs, init_video_from_wan, load_t5

STATE_NAME = "train_state.pt"
LOG_NAME = "loss_log.jsonl"
TEXT_KEYS = ("video_caption", "audio_caption", "transcript")


class DataSource(Protocol):
    def sample_batch(self, batch_size: int, generator: torch.Generator, **options: Any) -> dict:
        """{"video": (B, F, 3, H, W) in [-1, 1] (frame 0 = reference image), "audio": (B, N),
        "ref_audio": (B, Nr), "video_caption" / "audio_caption" / "transcript": list[str]}; optionally
        "latents": the batch already encoded with the config's codecs (a `Latents`)."""


def load_data_source(spec: str, cfg: HarmonyConfig, kwargs: dict) -> DataSource:
    module, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"data source {spec!r}: expected 'package.module:factory'")
    return getattr(importlib.import_module(module), attr)(cfg, **kwargs)


def encode_batch(batch: dict, video_codec: VideoCodec, audio_codec: AudioCodec) -> Latents:
    if "latents" in batch:  # a source that encoded its clips once with these codecs (synthav.source)
        return batch["latents"]
    missing = [k for k in ("video", "audio", "ref_audio", *TEXT_KEYS) if k not in batch]
    if missing:
        raise KeyError(f"data source batch lacks {missing}")
    if batch["video"].ndim != 5 or batch["video"].shape[2] != 3:
        raise ValueError(f"batch['video'] must be (B, F, 3, H, W), got {tuple(batch['video'].shape)}")
    with torch.no_grad():
        return Latents(video_codec.encode(batch["video"].float()), audio_codec.encode(batch["audio"].float()),
                       audio_codec.encode(batch["ref_audio"].float()))


def drop_captions(batch: dict, p: float, rng: random.Random) -> dict[str, list[str]]:
    """All three texts of a sample become empty together with probability p (text CFG's null)."""
    keep = [rng.random() >= p for _ in batch["video_caption"]]
    return {k: [t if kept else "" for t, kept in zip(batch[k], keep)] for k in TEXT_KEYS}


def stage_at(stages: tuple[Stage, ...], step: int) -> Stage:
    end = 0
    for stage in stages:
        end += stage.steps
        if step < end:
            return stage
    return stages[-1]


# ---- how a global batch is cut into micro-batches and ranks ------------------------------------
@dataclass(frozen=True)
class BatchLayout:
    """One optimiser step's global batch: `shards` micro-batches of `micro` samples each; rank r
    computes shards r*accumulation .. (r+1)*accumulation - 1 and accumulates their gradients.

    The shards and the seeds that draw them depend on the config alone, never on the number of
    ranks, so a run resumed on another number of ranks sees the same batches.
    """

    batch: int
    micro: int
    world: int = 1
    rank: int = 0

    def __post_init__(self) -> None:
        if self.micro <= 0 or self.batch % self.micro:
            raise ValueError(f"batch {self.batch} is not a whole number of micro-batches of {self.micro}")
        if self.shards % self.world:
            raise ValueError(f"batch {self.batch} = {self.shards} micro-batches of {self.micro} cannot be split "
                             f"over {self.world} ranks: set train.micro_batch_size so that ranks divide "
                             "batch / micro_batch_size")

    @property
    def shards(self) -> int:
        return self.batch // self.micro

    @property
    def accumulation(self) -> int:
        return self.shards // self.world

    @property
    def local_shards(self) -> range:
        return range(self.rank * self.accumulation, (self.rank + 1) * self.accumulation)


def batch_layout(t: TrainConfig, stage: Stage, world: int = 1, rank: int = 0) -> BatchLayout:
    batch = stage.batch_size or t.batch_size
    return BatchLayout(batch, t.micro_batch_size or batch, world, rank)


def shard_seed(seed: int, step: int, shard: int) -> int:
    """Seed of micro-batch `shard` at `step`; shard 0 keeps the seed a whole-batch step always had."""
    return seed * 1_000_003 + step + (shard << 32)


@dataclass
class MicroBatch:
    latents: Latents
    texts: dict[str, list[str]]
    noise: Noise


class CTSObjective(nn.Module):
    """The training loss as one module call. Sharded, it is the FSDP root: FSDP2 requires the root
    to run first, and the caption encoder runs before the model's forward."""

    def __init__(self, model: HarmonyModel):
        super().__init__()
        self.model = model

    def forward(self, lat: Latents, texts: dict[str, list[str]], noise: Noise, lambda_v: float,
                lambda_a: float) -> dict[str, torch.Tensor]:
        cond = self.model.encode_conditions(texts["video_caption"], texts["audio_caption"], texts["transcript"])
        loss = cts_loss(self.model, lat, cond, noise, lambda_v, lambda_a)
        # a dict, not the dataclass: FSDP hooks the tensors of the output it can see
        return {k: v for k, v in loss.__dict__.items() if v is not None}


def trained_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state without a frozen external caption encoder (never trained nor saved)."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith("external_caption_encoder.")}


def init_adamw_state(opt: torch.optim.AdamW) -> None:
    """Create every parameter's AdamW state now, as AdamW would at its first step (step 0, zero
    moments). Parameters frozen by a stage then still have a state, so a checkpoint holds the same
    keys whatever stage it was written in and loads into a fresh optimiser."""
    for group in opt.param_groups:
        if group["fused"] or group["capturable"] or group["amsgrad"]:
            raise ValueError("init_adamw_state covers the plain AdamW (not fused, capturable or amsgrad)")
        for p in group["params"]:
            if not opt.state[p]:
                opt.state[p].update(step=torch.tensor(0.0), exp_avg=torch.zeros_like(p),
                                    exp_avg_sq=torch.zeros_like(p))


class Trainer:
    """Single-process training; harmony_model.distributed.FSDPTrainer shards the same loop."""

    world, rank = 1, 0

    def __init__(self, cfg: HarmonyConfig, data: DataSource, out_dir: str | Path, device: str = "cpu",
                 wan_folder: str | Path | None = None):
        self.cfg, self.data, self.out, self.device = cfg, data, Path(out_dir), torch.device(device)
        self.model, self.objective = self._build_model(wan_folder)
        self.video_codec, self.audio_codec = build_codecs(cfg.codec)
        t = cfg.train
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        init_adamw_state(self.opt)
        self.ema = {k: v.detach().clone() for k, v in trained_state(self.model).items()}
        if cfg.caption.kind == "t5":  # after the optimiser and the EMA: frozen, neither holds it
            load_t5(self.model, str(self.device))
        self.step = 0
        self.total_steps = sum(s.steps for s in t.stages)

    def _build_model(self, wan_folder: str | Path | None) -> tuple[HarmonyModel, nn.Module]:
        model = HarmonyModel(self.cfg)
        if wan_folder:
            init_video_from_wan(model, wan_folder)
        model = model.to(self.device)
        return model, CTSObjective(model)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # ---- state ------------------------------------------------------------------------------
    def save(self) -> None:
        # The export goes first: a crash between the two resumes from the older state and
        # redoes those steps deterministically, instead of leaving a state ahead of its export.
        self.out.mkdir(parents=True, exist_ok=True)
        export_ema(self.cfg, self.ema, self.out / "model")
        state = {"step": self.step, "model": trained_state(self.model), "ema": self.ema,
                 "optimizer": self.opt.state_dict()}
        tmp = self.out / (STATE_NAME + ".part")
        torch.save(state, tmp)
        tmp.replace(self.out / STATE_NAME)

    def resume(self) -> bool:
        path = self.out / STATE_NAME
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"], strict=self.cfg.caption.kind != "t5")
        self.ema = state["ema"]
        self.opt.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        return True

    def _truncate_log(self) -> None:
        """Drop log lines written after the checkpoint being resumed (or by a run that stopped
        before its first checkpoint)."""
        log = self.out / LOG_NAME
        if log.is_file():
            lines = [ln for ln in log.read_text().splitlines() if ln and json.loads(ln)["step"] <= self.step]
            log.write_text("".join(ln + "\n" for ln in lines))

    # ---- loop -------------------------------------------------------------------------------
    def micro_batch(self, stage: Stage, shard: int, size: int) -> MicroBatch:
        t = self.cfg.train
        seed = shard_seed(t.seed, self.step, shard)
        gen = torch.Generator().manual_seed(seed)
        batch = self.data.sample_batch(size, gen, **stage.data_options)
        lat = encode_batch(batch, self.video_codec, self.audio_codec)
        lat = Latents(*(x.to(self.device) for x in (lat.video, lat.audio, lat.ref_audio)))
        texts = drop_captions(batch, t.caption_dropout, random.Random(seed))
        return MicroBatch(lat, texts, Noise.draw(lat, t.shift, gen))

    def train_step(self, stage: Stage) -> dict[str, float]:
        """One optimiser step over the stage's global batch (this rank's micro-batches of it)."""
        self._set_trainable(stage)  # before any forward: the caption encoder runs first
        layout = batch_layout(self.cfg.train, stage, self.world, self.rank)
        self.opt.zero_grad(set_to_none=True)
        sums: dict[str, torch.Tensor] = {}
        for shard in layout.local_shards:
            mb = self.micro_batch(stage, shard, layout.micro)
            parts = self.objective(mb.latents, mb.texts, mb.noise, stage.lambda_v, stage.lambda_a)
            (parts["total"] / layout.accumulation).backward()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v.detach().float() / layout.accumulation
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.opt.step()
        self._update_ema()
        self.step += 1
        return {k: round(v, 6) for k, v in self._mean_over_ranks(sums).items()}

    def _mean_over_ranks(self, parts: dict[str, torch.Tensor]) -> dict[str, float]:
        return {k: float(v) for k, v in parts.items()}

    def _set_trainable(self, stage: Stage) -> None:
        for name, p in self.model.named_parameters():
            if not name.startswith("external_caption_encoder."):
                p.requires_grad_(not stage.trainable or name.startswith(stage.trainable))

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.cfg.train.ema_decay, (1 + self.step) / (10 + self.step))  # warm-up
        for k, v in trained_state(self.model).items():
            if v.dtype.is_floating_point:
                self.ema[k].mul_(decay).add_(v, alpha=1 - decay)
            else:
                self.ema[k].copy_(v)

    def run(self, progress: bool = True, max_steps: int | None = None) -> Path:
        """Train to the end of the curriculum, or only up to step `max_steps` (the stage
        boundaries stay where the curriculum puts them)."""
        from tqdm import tqdm

        end = self.total_steps if max_steps is None else min(max_steps, self.total_steps)
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            self.cfg.save(self.out / "config.json")
            self._truncate_log()
        t = self.cfg.train
        bar = tqdm(total=end, initial=self.step, disable=not (progress and self.is_main), desc="train")
        with contextlib.ExitStack() as stack:
            log = stack.enter_context((self.out / LOG_NAME).open("a")) if self.is_main else None
            while self.step < end:
                stage = stage_at(t.stages, self.step)
                started = time.perf_counter()
                parts = self.train_step(stage)
                seconds = round(time.perf_counter() - started, 4)
                # Saved before logged: a line of the log names a step whose checkpoint is complete.
                if self.step % t.checkpoint_every == 0 or self.step == end:  # collective when sharded
                    self.save()
                if log and (self.step % t.log_every == 0 or self.step == end):
                    log.write(json.dumps({"step": self.step, "stage": stage.name, **parts,
                                          "seconds": seconds}) + "\n")
                    log.flush()
                bar.update(1)
                bar.set_postfix(loss=parts["total"], stage=stage.name)
        bar.close()
        return self.out / "model"


def saved_step(out: str | Path) -> int:
    """The step of the last complete save in a training folder (0 before the first); the export
    in `out/model` is at least as recent, since `Trainer.save` writes it first."""
    path = Path(out) / STATE_NAME
    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["step"]) if path.is_file() else 0


def export_ema(cfg: HarmonyConfig, ema: dict[str, torch.Tensor], folder: Path) -> None:
    """Write the EMA weights as a HarmonyModel checkpoint folder (model.safetensors + config.json)."""
    with torch.device("meta"):
        model = HarmonyModel(cfg)
    model.load_state_dict(ema, assign=True, strict=True)
    model.save_pretrained(folder)


def load_data(cfg: HarmonyConfig, data: DataSource | None) -> DataSource:
    if data is not None:
        return data
    if not cfg.train.data:
        raise ValueError("no data source: pass one, set train.data in the config, or use --data")
    return load_data_source(cfg.train.data, cfg, cfg.train.data_kwargs)


def train(cfg: HarmonyConfig, data: DataSource | None, out_dir: str | Path, resume: bool = True,
          device: str = "cpu", progress: bool = True, max_steps: int | None = None,
          wan_folder: str | Path | None = None) -> Path:
    """Train (or continue training) and return the folder of the EMA checkpoint."""
    data = load_data(cfg, data)
    torch.manual_seed(cfg.train.seed)  # parameter initialisation
    trainer = Trainer(cfg, data, out_dir, device, wan_folder)
    if resume:
        trainer.resume()
    return trainer.run(progress, max_steps)


def arg_parser(prog: str) -> argparse.ArgumentParser:
    """The options every training command shares (`harmony_model.distributed` adds its own)."""
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="HarmonyConfig JSON file")
    ap.add_argument("--out", required=True, help="output folder (resumed when it holds a train state)")
    ap.add_argument("--data", default=None, help="data source factory 'module:attr' (overrides the config)")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing train state in --out")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument("--steps", type=int, default=None, help="stop at this step (default: the whole curriculum)")
    ap.add_argument("--wan", default=None, metavar="FOLDER",
                    help="initialise the video branch from a Wan2.2 diffusers transformer folder (fresh runs)")
    return ap


def load_config(args: argparse.Namespace) -> HarmonyConfig:
    cfg = HarmonyConfig.load(args.config)
    if args.data:
        cfg.train.data = args.data
    return cfg


def main(argv: list[str] | None = None) -> int:
    """Single-process training; sharded training is `python -m harmony_model.distributed` under torchrun."""
    args = arg_parser("python -m harmony_model.train").parse_args(argv)
    folder = train(load_config(args), None, args.out, resume=not args.fresh, device=args.device,
                   progress=not args.quiet, max_steps=args.steps, wan_folder=args.wan)
    print(f"checkpoint: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
