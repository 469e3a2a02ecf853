"""The model contract: one method, one clip out.

A model adapter turns a case (captions, transcript, reference image, reference audio) and a seed
into one clip file; `generate_batch` does several cases at once where the model can batch. Built-ins register with `@register_model`; third-party packages expose a
`Model` subclass (or a factory taking the spec argument) in the entry-point group
`harmony_bench.models`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from harmony_bench.cases import Case
from harmony_bench.registry import Registry


@dataclass(frozen=True)
class Capabilities:
    joint: bool = True  # text(+references) -> audio and video together
    audio_driven_video: bool = False
    video_driven_audio: bool = False
    languages: tuple[str, ...] = ("en",)


@dataclass(frozen=True)
class GeneratedClip:
    video: Path  # mp4, H.264 video (+ AAC audio)
    audio: Path | None = None  # lossless wav beside it, preferred by the metrics when present


class GenerationError(RuntimeError):
    pass


class Model(ABC):
    name: str = "model"
    capabilities: Capabilities = Capabilities()
    fps: float = 24.0
    size: tuple[int, int] = (256, 256)  # (height, width)
    sample_rate: int = 16000
    batch_size: int = 1  # cases per `generate_batch` call when the run does not say (--batch-size)

    def __init__(self, arg: str | None = None, device: str = "cpu"):
        """`arg` is what follows the colon in `--model name:arg` (a folder, a template...)."""
        self.arg = arg
        self.device = device
        self.spec = f"{self.name}:{arg}" if arg is not None else self.name  # set by get_model
        self.source: dict | None = None  # the plugin's entry point and package version, if any

    @abstractmethod
    def generate(self, case: Case, seed: int, out_dir: Path) -> GeneratedClip:
        """Write `<out_dir>/<case.id>.mp4` (optionally `.wav`) for this case and seed.

        Args:
            case: the benchmark case (captions, transcript, reference assets).
            seed: generation seed; the same seed must give the same clip.
            out_dir: folder to write into (exists).
        Returns:
            The paths written. Raise GenerationError with a reason on failure.
        """

    def generate_batch(self, cases: list[Case], seed: int, out_dir: Path) -> list[GeneratedClip | Exception]:
        """Write the clips of several cases (each as `generate` would), one result per case in order.

        A model that can denoise several cases at once overrides this; the default calls
        `generate` for each. A case's clip must not depend on the cases beside it in the batch.
        Returns:
            For each case, its clip or the exception that failed it: one failing case does not
            fail the others.
        """
        results: list[GeneratedClip | Exception] = []
        for case in cases:
            try:
                results.append(self.generate(case, seed, out_dir))
            except Exception as exc:  # stored as this case's failure by the runner
                results.append(exc)
        return results

    def preflight(self, cases: list[Case]) -> list[str]:
        """Problems worth reporting before generation starts (e.g. missing clips); never fatal."""
        return []

    def describe(self) -> dict:
        """Facts stamped on the run (override to add checkpoint hashes, configs)."""
        return {"name": self.name, "fps": self.fps, "size": list(self.size), "sample_rate": self.sample_rate}

    def identity(self) -> dict:
        """What must match for a stored clip of this model to be reused: the spec, the adapter
        (and for plugins its package and version, set by `get_model`), and the generation
        settings. Override to leave out facts that do not change the clips (e.g. a local path)."""
        return {"spec": self.spec, "adapter": f"{type(self).__module__}.{type(self).__qualname__}",
                "source": self.source, **self.describe()}


MODELS: Registry = Registry("model", entry_point_group="harmony_bench.models")
register_model = MODELS.register
