"""Configuration of the reference Harmony model: one nested dataclass, saved as config.json.

Every switch of the paper's ablation (Table 3) is a field here, so an ablation variant is a
config file, never a code edit. `HarmonyConfig.load(path)` / `.save(path)` round-trip JSON;
unknown keys are an error (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Interaction = Literal["none", "global", "gldi"]
Guidance = Literal["none", "text", "sync", "both"]


@dataclass
class VideoBranchConfig:
    """Wan2.2-style DiT; field names follow diffusers' WanTransformer3DModel config."""

    dim: int = 64
    heads: int = 4
    layers: int = 4
    ffn_dim: int = 256
    in_channels: int = 48
    patch_size: tuple[int, int, int] = (1, 2, 2)
    text_dim: int = 64
    freq_dim: int = 256
    eps: float = 1e-6
    cross_attn_norm: bool = True
    rope_max_seq_len: int = 1024


@dataclass
class AudioBranchConfig:
    """MM-DiT over [reference latent | noisy latent | transcript tokens | caption tokens] (Eq. 2)."""

    dim: int = 64
    heads: int = 4
    ffn_dim: int = 256
    latent_channels: int = 128
    text_dim: int = 64
    freq_dim: int = 256
    eps: float = 1e-6
    transcript_vocab: int = 258  # UTF-8 bytes + pad + begin
    transcript_max_len: int = 96  # bytes; the longest benchmark transcript is 79
    transcript_convnext_layers: int = 2


@dataclass
class InteractionConfig:
    mode: Interaction = "gldi"  # none | global (Ovi-like full cross-attention) | gldi (section 3.3)
    rope_align: bool = True  # audio RoPE position j * Tv/Ta (Eq. 5 preamble) instead of j
    window: float = 1.0  # half-width of the frame-wise window, in video latent frames
    global_style: bool = True  # Eq. 7: reference latent queries the whole video


@dataclass
class CaptionConfig:
    kind: Literal["learned", "t5"] = "learned"
    max_len: int = 64  # tokens (bytes for the learned encoder)
    layers: int = 2  # learned encoder only
    heads: int = 4
    t5_folder: str = "umt5-xxl"  # inside the weights folder, t5 only


@dataclass
class CodecConfig:
    video: Literal["unshuffle", "wan-vae"] = "unshuffle"
    audio: Literal["logmel", "mmaudio-vae"] = "logmel"
    fps: float = 8.0
    height: int = 32
    width: int = 32
    unshuffle: int = 4
    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 64
    stack: int = 2  # adjacent mel frames stacked into one latent: 16000/256/2 = 31.25 Hz
    ref_audio_seconds: float = 2.0
    vae_folder: str = ""  # inside the weights folder, VAE codecs only


@dataclass
class Stage:
    """One curriculum stage (appendix B): its own steps, CTS weights and trainable parts."""

    name: str = "joint"
    steps: int = 1000
    lambda_v: float = 0.1  # Eq. 3, weight of the audio-driven video loss
    lambda_a: float = 0.3  # Eq. 3, weight of the video-driven audio loss
    trainable: tuple[str, ...] = ()  # parameter-name prefixes; empty = everything
    data_options: dict[str, Any] = field(default_factory=dict)  # passed to the data source
    batch_size: int = 0  # global batch of this stage; 0 = train.batch_size (the paper's stages differ)


@dataclass
class TrainConfig:
    stages: tuple[Stage, ...] = field(default_factory=lambda: (Stage(),))  # a fresh Stage per config
    batch_size: int = 16  # global batch per optimiser step, over all ranks
    micro_batch_size: int = 0  # samples per forward pass (gradient accumulation); 0 = the whole batch
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    shift: float = 5.0
    caption_dropout: float = 0.1  # so that text CFG (Eq. 8) has an unconditional model
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 200
    data: str = ""  # "module:factory" building the data source (or pass one to `train`)
    data_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class SampleConfig:
    steps: int = 40
    shift: float = 5.0
    guidance: Guidance = "sync"
    s_v: float = 3.0  # Eq. 9
    s_a: float = 2.0  # Eq. 10
    s_text: float = 1.0  # Eq. 8 (used by guidance text / both)


@dataclass
class HarmonyConfig:
    video: VideoBranchConfig = field(default_factory=VideoBranchConfig)
    audio: AudioBranchConfig = field(default_factory=AudioBranchConfig)
    interaction: InteractionConfig = field(default_factory=InteractionConfig)
    caption: CaptionConfig = field(default_factory=CaptionConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)

    @property
    def layers(self) -> int:
        return self.video.layers  # the two branches are paired layer by layer

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "HarmonyConfig":
        return _build(cls, d)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "HarmonyConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


def _build(cls: type, d: dict) -> Any:
    """Dataclass from a dict, recursing into nested dataclasses and tuples of them."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(fields)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown config keys {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    return cls(**{name: _coerce(hints[name], value) for name, value in d.items()})


def _coerce(tp: Any, value: Any) -> Any:
    if typing.get_origin(tp) is Literal and value not in typing.get_args(tp):
        raise ValueError(f"config value {value!r} is not one of {typing.get_args(tp)}")
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return _build(tp, value)
    if typing.get_origin(tp) is tuple and isinstance(value, list):
        return tuple(_coerce(typing.get_args(tp)[0], v) for v in value)
    return value


def tiny() -> HarmonyConfig:
    """The CPU configuration: 8 fps 32x32 video, 16 kHz audio, two branches of 4 x 64.

    Every token must fit through the 64-wide model, or its output projection reaches only part of
    the velocity: video patches are one latent pixel (48 values; Wan's 1x2x2 patch has 192) and an
    audio latent is one mel frame (64 values at 62.5 Hz; stacking two gives 128).
    """
    return HarmonyConfig(video=VideoBranchConfig(patch_size=(1, 1, 1)), audio=AudioBranchConfig(latent_channels=64),
                         codec=CodecConfig(stack=1))


def paper() -> HarmonyConfig:
    """Paper scale: video branch shaped as Wan2.2-TI2V-5B (diffusers config of that checkpoint),
    a symmetric audio branch of the same width and depth over MMAudio-style 16 kHz latents
    (20 channels at 31.25 Hz), umT5-XXL captions (4096-d)."""
    return HarmonyConfig(
        video=VideoBranchConfig(dim=3072, heads=24, layers=30, ffn_dim=14336, in_channels=48, text_dim=4096),
        audio=AudioBranchConfig(dim=3072, heads=24, ffn_dim=14336, latent_channels=20, text_dim=4096,
                                transcript_max_len=512, transcript_convnext_layers=4),
        caption=CaptionConfig(kind="t5", max_len=512),
        codec=CodecConfig(video="wan-vae", audio="mmaudio-vae", fps=24.0, height=704, width=1280,
                          vae_folder="wan2.2-ti2v-5b/vae"),
        train=TrainConfig(lr=1e-5, batch_size=128, shift=5.0),
    )
