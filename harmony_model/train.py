"""Training: Cross-Task Synergy flow matching over curriculum stages (section 3.2, appendix B).

    python -m harmony_model.train --config tiny.json --out runs/tiny [--data module:factory]

The data source is any object with `sample_batch(batch_size, generator, **stage.data_options)`
returning the batch dict described in harmony_model/README.md; `--data` (or `train.data` in the
config) names a factory `f(cfg: HarmonyConfig, **train.data_kwargs)` that builds it. Batches are
drawn with a generator seeded by (seed, step), so a resumed run continues exactly where it stopped.

Output folder: `model/` (EMA weights + config, what the sampler loads), `train_state.pt`
(raw weights, EMA, optimiser, step; loads with weights_only=True), `loss_log.jsonl`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import time
from pathlib import Path
from typing import Any, Protocol

import torch

from harmony_model.codecs import AudioCodec, VideoCodec, build_codecs
from harmony_model.config import HarmonyConfig, Stage
from harmony_model.losses import Latents, Noise, cts_loss
from harmony_model.model import HarmonyModel

STATE_NAME = "train_state.pt"
LOG_NAME = "loss_log.jsonl"
TEXT_KEYS = ("video_caption", "audio_caption", "transcript")


class DataSource(Protocol):
    def sample_batch(self, batch_size: int, generator: torch.Generator, **options: Any) -> dict:
        """{"video": (B, F, 3, H, W) in [-1, 1] (frame 0 = reference image), "audio": (B, N),
        "ref_audio": (B, Nr), "video_caption" / "audio_caption" / "transcript": list[str]}."""


def load_data_source(spec: str, cfg: HarmonyConfig, kwargs: dict) -> DataSource:
    module, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"data source {spec!r}: expected 'package.module:factory'")
    return getattr(importlib.import_module(module), attr)(cfg, **kwargs)


def encode_batch(batch: dict, video_codec: VideoCodec, audio_codec: AudioCodec) -> Latents:
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


class Trainer:
    def __init__(self, cfg: HarmonyConfig, data: DataSource, out_dir: str | Path, device: str = "cpu"):
        self.cfg, self.data, self.out, self.device = cfg, data, Path(out_dir), device
        self.model = HarmonyModel(cfg).to(device)
        self.video_codec, self.audio_codec = build_codecs(cfg.codec)
        t = cfg.train
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.step = 0
        self.total_steps = sum(s.steps for s in t.stages)

    # ---- state ------------------------------------------------------------------------------
    def save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        state = {"step": self.step, "model": self.model.state_dict(), "ema": self.ema,
                 "optimizer": self.opt.state_dict()}
        tmp = self.out / (STATE_NAME + ".part")
        torch.save(state, tmp)
        tmp.replace(self.out / STATE_NAME)
        ema_model = HarmonyModel(self.cfg)
        ema_model.load_state_dict(self.ema)
        ema_model.save_pretrained(self.out / "model")

    def resume(self) -> bool:
        path = self.out / STATE_NAME
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
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
    def train_step(self, stage: Stage) -> dict[str, float]:
        t = self.cfg.train
        self._set_trainable(stage)  # before any forward: the caption encoder runs first
        seed = t.seed * 1_000_003 + self.step
        gen = torch.Generator().manual_seed(seed)
        batch = self.data.sample_batch(t.batch_size, gen, **stage.data_options)
        lat = encode_batch(batch, self.video_codec, self.audio_codec)
        lat = Latents(*(x.to(self.device) for x in (lat.video, lat.audio, lat.ref_audio)))
        texts = drop_captions(batch, t.caption_dropout, random.Random(seed))
        cond = self.model.encode_conditions(texts["video_caption"], texts["audio_caption"], texts["transcript"])
        loss = cts_loss(self.model, lat, cond, Noise.draw(lat, t.shift, gen), stage.lambda_v, stage.lambda_a)
        self.opt.zero_grad(set_to_none=True)
        loss.total.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip)
        self.opt.step()
        self._update_ema()
        self.step += 1
        return {k: round(v, 6) for k, v in loss.as_dict().items()}

    def _set_trainable(self, stage: Stage) -> None:
        for name, p in self.model.named_parameters():
            p.requires_grad_(not stage.trainable or name.startswith(stage.trainable))

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.cfg.train.ema_decay, (1 + self.step) / (10 + self.step))  # warm-up
        for k, v in self.model.state_dict().items():
            if v.dtype.is_floating_point:
                self.ema[k].mul_(decay).add_(v, alpha=1 - decay)
            else:
                self.ema[k].copy_(v)

    def run(self, progress: bool = True) -> Path:
        from tqdm import tqdm

        self.out.mkdir(parents=True, exist_ok=True)
        self.cfg.save(self.out / "config.json")
        self._truncate_log()
        t = self.cfg.train
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not progress, desc="train")
        with (self.out / LOG_NAME).open("a") as log:
            while self.step < self.total_steps:
                stage = stage_at(t.stages, self.step)
                started = time.perf_counter()
                parts = self.train_step(stage)
                if self.step % t.log_every == 0 or self.step == self.total_steps:
                    log.write(json.dumps({"step": self.step, "stage": stage.name, **parts,
                                          "seconds": round(time.perf_counter() - started, 4)}) + "\n")
                    log.flush()
                if self.step % t.checkpoint_every == 0 or self.step == self.total_steps:
                    self.save()
                bar.update(1)
                bar.set_postfix(loss=parts["total"], stage=stage.name)
        bar.close()
        return self.out / "model"


def train(cfg: HarmonyConfig, data: DataSource | None, out_dir: str | Path, resume: bool = True,
          device: str = "cpu", progress: bool = True) -> Path:
    """Train (or continue training) and return the folder of the EMA checkpoint."""
    if data is None:
        if not cfg.train.data:
            raise ValueError("no data source: pass one, set train.data in the config, or use --data")
        data = load_data_source(cfg.train.data, cfg, cfg.train.data_kwargs)
    torch.manual_seed(cfg.train.seed)  # parameter initialisation
    trainer = Trainer(cfg, data, out_dir, device)
    if resume:
        trainer.resume()
    return trainer.run(progress)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harmony_model.train", description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="HarmonyConfig JSON file")
    ap.add_argument("--out", required=True, help="output folder (resumed when it holds a train state)")
    ap.add_argument("--data", default=None, help="data source factory 'module:attr' (overrides the config)")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing train state in --out")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    cfg = HarmonyConfig.load(args.config)
    if args.data:
        cfg.train.data = args.data
    folder = train(cfg, None, args.out, resume=not args.fresh, device=args.device, progress=not args.quiet)
    print(f"checkpoint: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
