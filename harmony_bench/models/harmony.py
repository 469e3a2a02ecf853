"""The `harmony` adapter: the reference Harmony model (harmony_model/) behind the harness.

`--model harmony` loads the shipped tiny checkpoint (harmony_model/checkpoints/tiny/:
model.safetensors + config.json); `--model harmony:FOLDER` loads a user checkpoint folder of the
same layout (e.g. the `model/` folder a `python -m harmony_model.train` run writes). Generation
is joint (text + reference image + reference audio -> audio and video), seeded per (seed, case)
and deterministic on CPU; frames are upscaled to `size` for viewing, the model's own resolution
and frame rate are in `describe()`.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import resample, write_clip
from harmony_bench.models.base import Capabilities, GeneratedClip, GenerationError, Model, register_model
from harmony_model import SHIPPED_CHECKPOINT
REQUIRED_FILES = ("config.json", "model.safetensors")


def checkpoint_folder(arg: str | None) -> Path:
    """The checkpoint folder, after checking its files exist (GenerationError names the first missing)."""
    folder = Path(arg).expanduser() if arg else SHIPPED_CHECKPOINT
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            hint = ("the shipped tiny checkpoint is trained by the SynthAV task (harmony_model/synthav); "
                    "train one with `python -m harmony_model.train` and pass --model harmony:FOLDER"
                    if not arg else "a checkpoint folder holds config.json and model.safetensors")
            raise GenerationError(f"harmony checkpoint file missing: {folder / name} ({hint})")
    return folder


@register_model("harmony")
class HarmonyModel(Model):
    name = "harmony"
    capabilities = Capabilities(joint=True, audio_driven_video=True, video_driven_audio=True, languages=("en", "zh"))
    # On the CPU a batch costs what its cases cost one by one (one torch thread: 219.5 against
    # 222 ms a SyncCFG step per case, batch 8 against 1, docs/performance.md); 4 per batch keeps
    # the two generation threads of a 2-core machine evenly loaded to the end of the 150 cases.
    batch_size = 4

    def __init__(self, arg: str | None = None, device: str = "cpu"):
        super().__init__(arg, device)
        from harmony_model.pipeline import HarmonyPipeline

        self.folder = checkpoint_folder(arg)
        self.pipeline = HarmonyPipeline.from_pretrained(self.folder, device)
        codec = self.pipeline.cfg.codec
        self.fps, self.sample_rate = codec.fps, codec.sample_rate

    def generate(self, case: Case, seed: int, out_dir: Path) -> GeneratedClip:
        result = self.generate_batch([case], seed, out_dir)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def generate_batch(self, cases: list[Case], seed: int, out_dir: Path) -> list[GeneratedClip | Exception]:
        """Cases of one duration are denoised together, each from its own seed (`case_seed`)."""
        results: dict[int, GeneratedClip | Exception] = {}
        requests = {}
        for i, case in enumerate(cases):
            try:
                requests[i] = self._request(case)
            except Exception as exc:  # e.g. a missing reference: this case fails, the batch goes on
                results[i] = exc
        by_duration: dict[float, list[int]] = {}
        for i in requests:
            by_duration.setdefault(cases[i].duration, []).append(i)
        for group in by_duration.values():
            try:
                outs = self.pipeline.generate_batch([requests[i] for i in group],
                                                    [case_seed(cases[i], seed) for i in group])
            except Exception as exc:
                results.update({i: exc for i in group})
                continue
            for i, out in zip(group, outs):
                try:
                    results[i] = self._write(cases[i], out, out_dir)
                except Exception as exc:
                    results[i] = exc
        return [results[i] for i in range(len(cases))]

    def _request(self, case: Case):
        from harmony_model.pipeline import GenerationRequest

        return GenerationRequest(
            video_caption=case.video_caption, audio_caption=case.audio_caption or "",
            transcript=case.transcript or "", ref_image=_read_image(case.reference_image_path),
            ref_audio=_read_audio(case.reference_audio_path, self.sample_rate), duration=case.duration)

    def _write(self, case: Case, out, out_dir: Path) -> GeneratedClip:
        n_samples = int(round(case.duration * self.sample_rate))
        audio = np.zeros(n_samples, np.float32)
        audio[: min(n_samples, len(out.audio))] = out.audio[:n_samples]
        path = write_clip(out_dir / f"{case.id}.mp4", _upscale(out.frames, self.size), self.fps, audio,
                          self.sample_rate)
        return GeneratedClip(path, path.with_suffix(".wav"))

    def describe(self) -> dict:
        from harmony_bench.weights import sha256_of

        cfg = self.pipeline.cfg
        return {**super().describe(), "checkpoint": str(self.folder),
                "checkpoint_sha256": sha256_of(self.folder / "model.safetensors"),
                "model_resolution": [cfg.codec.height, cfg.codec.width], "sampling": cfg.sample.__dict__,
                "interaction": cfg.interaction.__dict__}

    def identity(self) -> dict:
        ident = super().identity()
        ident.pop("checkpoint")  # a local path; the checkpoint's sha256 says which weights
        return ident


def case_seed(case: Case, seed: int) -> int:
    """A torch seed that depends only on (seed, case id); 32 bits, as the CPU generator keeps."""
    return zlib.crc32(f"{seed}:{case.id}".encode())


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise GenerationError(f"reference image missing: {path}")
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _read_audio(path: Path, sample_rate: int) -> np.ndarray:
    import soundfile as sf

    if not path.is_file():
        raise GenerationError(f"reference audio missing: {path}")
    wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(wave.mean(axis=1), sr, sample_rate)


def _upscale(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    h, w = size
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in frames])
