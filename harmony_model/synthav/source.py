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

import numpy as np
import torch

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
    """`sample_batch` draws clips of the pool uniformly with the trainer's generator.

    Stage option `ref_mismatch=True` (timbre disentanglement, appendix B) pairs each clip with
    the reference audio of another clip.
    """

    def __init__(self, pool: Pool):
        self.pool = pool

    def sample_batch(self, batch_size: int, generator: torch.Generator, ref_mismatch: bool = False) -> dict:
        k = len(self.pool)
        idx = torch.randint(k, (batch_size,), generator=generator).numpy()
        ref_idx = (idx + torch.randint(1, k, (batch_size,), generator=generator).numpy()) % k if ref_mismatch else idx
        frames = torch.from_numpy(self.pool.frames[idx]).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0
        return {
            "video": frames,
            "audio": torch.from_numpy(self.pool.audio[idx].astype(np.float32) / 32767),
            "ref_audio": torch.from_numpy(self.pool.ref_audio[ref_idx].astype(np.float32) / 32767),
            "video_caption": [self.pool.video_caption[i] for i in idx],
            "audio_caption": [self.pool.audio_caption[i] for i in idx],
            "transcript": [self.pool.transcript[i] for i in idx],
        }


def make_source(cfg, count: int = 2000, duration: float = 1.0, split: str = "train",
                cache_dir: str | None = None) -> SynthAVSource:
    """Factory for `train.data = "harmony_model.synthav:make_source"` (kwargs from train.data_kwargs).

    The clip size, frame rate and sample rate follow the model's codec configuration.
    """
    c = cfg.codec
    if c.height != c.width:
        raise ValueError(f"SynthAV renders square clips; codec is {c.height}x{c.width}")
    config = SynthAVConfig(size=c.height, fps=c.fps, duration=duration, sample_rate=c.sample_rate)
    return SynthAVSource(load_pool(split, count, config, c.ref_audio_seconds, cache_dir))
