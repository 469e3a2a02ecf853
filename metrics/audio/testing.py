"""Tiny random-weight files in the official checkpoint formats, for tests and smoke runs.

`write_random_weights(folder)` fills a weights folder so that every official audio backend loads
through its real code path. The files hash to nothing official: point `$HARMONY_BENCH_MANIFEST`
at the returned {name: sha256} table to run with them; every number made so carries their hashes.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from harmony_bench.weights import sha256_of
from harmony_bench.metrics.audio.audiobox import AUDIOBOX_CONFIG, AUDIOBOX_MODEL, AXES
from harmony_bench.metrics.audio.checkpoints import override_path
from harmony_bench.metrics.audio.imagebind import IMAGEBIND_HUGE
from harmony_bench.metrics.audio.wer import WHISPER_LARGE_V3

# Whisper-large-v3's vocabulary and mel bins (so its tokenizer and front end apply), tiny layers
TINY_WHISPER = dict(n_mels=128, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
                    n_vocab=51866, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=1)
TINY_WAVLM = dict(encoder_layers=1, encoder_embed_dim=32, encoder_ffn_embed_dim=64, encoder_attention_heads=2,
                  conv_pos=8, conv_pos_groups=2, conv_feature_layers=[[16, 10, 5]] + [[16, 3, 2]] * 4 + [[16, 2, 2]] * 2)
TINY_IMAGEBIND = dict(out_embed_dim=16, vision_embed_dim=32, vision_num_blocks=1, vision_num_heads=2,
                      audio_embed_dim=32, audio_num_blocks=1, audio_num_heads=2, text_embed_dim=32,
                      text_num_blocks=1, text_num_heads=2, depth_embed_dim=16, depth_num_blocks=1,
                      depth_num_heads=2, thermal_embed_dim=16, thermal_num_blocks=1, thermal_num_heads=2,
                      imu_embed_dim=16, imu_num_blocks=1, imu_num_heads=2)


def tiny_whisper(dims: dict = TINY_WHISPER, seed: int = 0):
    """A seeded random Whisper. openai-whisper allocates the text decoder's positional embedding
    with torch.empty (a released checkpoint fills it), so it is drawn here: left alone, it holds
    whatever memory it was given, and the model's output changes from run to run."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(seed)
    model = Whisper(ModelDimensions(**dims))
    with torch.no_grad():
        model.decoder.positional_embedding.normal_(0.0, 0.02)
    return model.eval()


def write_whisper(path: Path, dims: dict = TINY_WHISPER) -> None:
    """openai-whisper's .pt format: {"dims": ModelDimensions as a dict of ints, "model_state_dict":
    float16 tensors} (the released checkpoints are half precision; load_model casts them)."""
    import torch

    model = tiny_whisper(dims)
    state = {k: v.half() for k, v in model.state_dict().items()}
    torch.save({"dims": asdict(model.dims), "model_state_dict": state}, path)


def write_aesthetics(model_path: Path, config_path: Path) -> None:
    """Hugging Face release format (PyTorchModelHubMixin): config.json + model.safetensors."""
    from safetensors.torch import save_model

    from harmony_bench.metrics.audio.audiobox import _encoder_config, _encoder_overrides

    config = {"nth_layer": TINY_WAVLM["encoder_layers"] + 1, "precision": "32",
              "target_transform": {axis: {"mean": 5.5, "std": 1.5} for axis in AXES}}
    with _encoder_config(_encoder_overrides(TINY_WAVLM)) as model_cls:
        model = model_cls(**config)
    save_model(model, str(model_path))
    config_path.write_text(json.dumps(config, indent=2))
    override_path(model_path).write_text(json.dumps(TINY_WAVLM))


def write_imagebind(path: Path) -> None:
    """ImageBind's release format: a bare state dict saved with torch.save."""
    import torch

    from harmony_bench.metrics.audio.imagebind import _imagebind_modules

    model_cls, _ = _imagebind_modules()
    torch.save(model_cls(**TINY_IMAGEBIND).state_dict(), path)
    override_path(path).write_text(json.dumps(TINY_IMAGEBIND))


def write_random_weights(folder: str | Path, seed: int = 0) -> dict[str, str]:
    """Write tiny random weights for every official audio backend under `folder`; returns
    {weight file name: sha256} for `$HARMONY_BENCH_MANIFEST`."""
    import torch

    folder = Path(folder)
    for wf in (WHISPER_LARGE_V3, AUDIOBOX_MODEL, IMAGEBIND_HUGE):
        (folder / wf.name).parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    write_whisper(folder / WHISPER_LARGE_V3.name)
    write_aesthetics(folder / AUDIOBOX_MODEL.name, folder / AUDIOBOX_CONFIG.name)
    write_imagebind(folder / IMAGEBIND_HUGE.name)
    return {wf.name: sha256_of(folder / wf.name)
            for wf in (WHISPER_LARGE_V3, AUDIOBOX_MODEL, AUDIOBOX_CONFIG, IMAGEBIND_HUGE)}
