"""SynthAV as a training data source for `harmony_model.train` (the contract in harmony_model/README.md).

Clips of a split are generated once into a pool (about 25 ms each; cached as an .npz file keyed
by the generator settings) and batches are drawn from the pool with the trainer's generator, so
a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from harmony_model.codecs import LogMelAudioCodec, PixelUnshuffleVideoCodec
from harmony_model.config import CodecConfig
from harmony_model.losses import Latents
from harmony_model.synthav.generator import SynthAVConfig, generate, split_seeds

GENERATOR_VERSION = "1"  # bump when generate() output changes: invalidates cached pools


def default_cache_dir() -> Path:
    return Path(os.environ.get("HARMONY_BENCH_CACHE", Path.home() / ".cache" / "harmony-bench")) / "synthav"


@dataclass
class Pool:
    """Arrays of many clips of one split (frame 0 = the clip's first frame, the reference image)."""

    frames: np.ndarray  # (K, F, H, W, 3) uint8
    audio: np.ndarray  # (K, N) int16
    ref_audio: np.ndarray  # (K, Nr) int16
    video_caption: list[str]
    audio_caption: list[str]
    transcript: list[str]
    seeds: np.ndarray  # (K,)

    def __len__(self) -> int:
        return len(self.seeds)


def build_pool(split: str, count: int, config: SynthAVConfig, ref_seconds: float, offset: int = 0) -> Pool:
    n_ref = int(round(ref_seconds * config.sample_rate))
    clips = [generate(s, config=config) for s in split_seeds(split, count, offset)]
    return Pool(
        frames=np.stack([c.frames for c in clips]),
        audio=np.stack([_int16(c.audio) for c in clips]),
        ref_audio=np.stack([_int16(_fit(c.reference_audio, n_ref)) for c in clips]),
        video_caption=[c.video_caption for c in clips], audio_caption=[c.audio_caption for c in clips],
        transcript=[c.transcript or "" for c in clips], seeds=np.array([c.seed for c in clips]))


def load_pool(split: str, count: int, config: SynthAVConfig, ref_seconds: float,
              cache_dir: str | Path | None = None) -> Pool:
    """The pool from the cache, building and caching it when absent."""
    key = json.dumps({"v": GENERATOR_VERSION, "split": split, "count": count, "cfg": asdict(config),
                      "ref": ref_seconds}, sort_keys=True)
    path = Path(cache_dir or default_cache_dir()) / f"{split}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return Pool(z["frames"], z["audio"], z["ref_audio"], list(z["video_caption"]), list(z["audio_caption"]),
                        list(z["transcript"]), z["seeds"])
    pool = build_pool(split, count, config, ref_seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.npz")
    np.savez(tmp, frames=pool.frames, audio=pool.audio, ref_audio=pool.ref_audio,
             video_caption=np.array(pool.video_caption), audio_caption=np.array(pool.audio_caption),
             transcript=np.array(pool.transcript), seeds=pool.seeds)
    tmp.replace(path)
    return pool


def _int16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad to n samples."""
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


class SynthAVSource:
    """`sample_batch` draws clips of a pool uniformly with the trainer's generator.

    Stage option `level` (generator.LEVELS, default "hard") picks the pool of that curriculum
    level; each is built (or loaded from the cache) on first use. Stage option `ref_mismatch=True`
    (timbre disentanglement, appendix B) pairs each clip with the reference audio of another clip.
    With `codec` set, each pool's audio is encoded once and batches carry ready `latents` (the
    trainer then skips its codecs); the raw arrays stay in the batch for every other consumer.
    """

    def __init__(self, load: Callable[[str], Pool], codec: CodecConfig | None = None):
        self._load, self.codec = load, codec
        self._pools: dict[str, Pool] = {}
        self._audio_latents: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def pool(self, level: str = "hard") -> Pool:
        if level not in self._pools:
            self._pools[level] = self._load(level)
        return self._pools[level]

    def sample_batch(self, batch_size: int, generator: torch.Generator, ref_mismatch: bool = False,
                     level: str = "hard") -> dict:
        pool = self.pool(level)
        k = len(pool)
        idx = torch.randint(k, (batch_size,), generator=generator).numpy()
        ref_idx = (idx + torch.randint(1, k, (batch_size,), generator=generator).numpy()) % k if ref_mismatch else idx
        frames = torch.from_numpy(pool.frames[idx]).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0
        batch = {
            "video": frames,
            "audio": torch.from_numpy(pool.audio[idx].astype(np.float32) / 32767),
            "ref_audio": torch.from_numpy(pool.ref_audio[ref_idx].astype(np.float32) / 32767),
            "video_caption": [pool.video_caption[i] for i in idx],
            "audio_caption": [pool.audio_caption[i] for i in idx],
            "transcript": [pool.transcript[i] for i in idx],
        }
        if self.codec is not None:
            audio, ref = self._encoded_audio(level)
            video_codec = PixelUnshuffleVideoCodec(self.codec)  # a reshape: cheaper than caching its output
            batch["latents"] = Latents(video_codec.encode(frames), audio[idx], ref[ref_idx])
        return batch

    def _encoded_audio(self, level: str, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """The pool's audio and reference audio through the log-mel codec, once per level."""
        if level not in self._audio_latents:
            pool, codec = self.pool(level), LogMelAudioCodec(self.codec)

            def encode(x: np.ndarray) -> torch.Tensor:
                with torch.no_grad():
                    return torch.cat([codec.encode(torch.from_numpy(x[i : i + chunk].astype(np.float32) / 32767))
                                      for i in range(0, len(x), chunk)])

            self._audio_latents[level] = encode(pool.audio), encode(pool.ref_audio)
        return self._audio_latents[level]


def make_source(cfg, count: int = 2000, duration: float = 1.0, split: str = "train",
                cache_dir: str | None = None, cache_latents: bool = False) -> SynthAVSource:
    """Factory for `train.data = "harmony_model.synthav:make_source"` (kwargs from train.data_kwargs).

    The clip size, frame rate and sample rate follow the model's codec configuration; each
    curriculum level gets its own pool of `count` clips of the split. `cache_latents` encodes the
    audio once (weight-free codecs only).
    """
    c = cfg.codec
    if c.height != c.width:
        raise ValueError(f"SynthAV renders square clips; codec is {c.height}x{c.width}")
    if cache_latents and (c.video, c.audio) != ("unshuffle", "logmel"):
        raise ValueError(f"cache_latents needs the weight-free codecs; codec is {c.video}/{c.audio}")

    def load(level: str) -> Pool:
        config = SynthAVConfig(size=c.height, fps=c.fps, duration=duration, sample_rate=c.sample_rate, level=level)
        return load_pool(split, count, config, c.ref_audio_seconds, cache_dir)

    return SynthAVSource(load, c if cache_latents else None)
