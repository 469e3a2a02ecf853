"""PQ, PC, CE, CU: Meta's AudioBox-Aesthetics predictor (audiobox-aesthetics package, WavLM encoder).

The package's own inference (audiobox_aesthetics.infer) cuts 16 kHz mono audio into 10 s windows
every 10 s, zero-pads the last one with a padding mask, and averages the window predictions
weighted by each window's share of real audio. That windowing is re-implemented here (tested on
its own); the network is the package's `AesMultiOutput`, loaded from the Hugging Face release
files (config.json + model.safetensors).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.audio.checkpoints import architecture_override
from harmony_bench.metrics.base import (AUDIO_ONLY, Batching, Metric, NotScorable, Output, ProtocolCard, Score,
                                        WeightFile)
from harmony_bench.weights import HubFile
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.video.frames import batches

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 10
AXES = ("PQ", "PC", "CE", "CU")
# AesMultiOutput constructor fields that config.json may set (PyTorchModelHubMixin writes them)
MODEL_FIELDS = ("proj_num_layer", "proj_ln", "proj_act_fn", "proj_dropout", "nth_layer",
                "use_weighted_layer_sum", "precision", "normalize_embed", "output_dim", "target_transform")
# WavLM encoder settings a random-weight test file may shrink (see harmony_bench.metrics.audio.checkpoints)
ENCODER_OVERRIDES = {"encoder_layers": int, "encoder_embed_dim": int, "encoder_ffn_embed_dim": int,
                     "encoder_attention_heads": int, "conv_pos": int, "conv_pos_groups": int,
                     "num_buckets": int, "max_distance": int, "conv_feature_layers": list}

_REV = "9b1dd8e5df9af7216e836a98974fe3b82c56ded6"
_HF = f"https://huggingface.co/facebook/audiobox-aesthetics/resolve/{_REV}"
AUDIOBOX_MODEL = WeightFile(
    name="audiobox-aesthetics/model.safetensors",
    sha256="a5a3c2412649cc2384ec525ffd5180ce6c4778f43bed6108e0a1303de04d014e", size_bytes=415_472_992,
    source=f"{_HF}/model.safetensors", licence="CC-BY-4.0",
    hub=HubFile("facebook/audiobox-aesthetics", _REV, "model.safetensors"),
    hash_source=f"huggingface.co/facebook/audiobox-aesthetics at revision {_REV[:7]}: its git-LFS oid, "
                "recorded alike by several independent projects",
    note="safetensors of AesMultiOutput (PyTorchModelHubMixin.save_pretrained): tensors only, the WavLM "
         "encoder and the four axis heads; the settings live in config.json. The repository's checkpoint.pt "
         "(a pickled training checkpoint) is not used")
AUDIOBOX_CONFIG = WeightFile(
    name="audiobox-aesthetics/config.json",
    sha256="0b8eabc5ced92cefed116a3aca8f1e59d2a33dc4d376b9e86dfb9c072e1d280d", size_bytes=492,
    source=f"{_HF}/config.json", licence="CC-BY-4.0",
    hub=HubFile("facebook/audiobox-aesthetics", _REV, "config.json"),
    hash_source=f"huggingface.co/facebook/audiobox-aesthetics at revision {_REV[:7]}: the file's bytes, as "
                "recorded by independent projects",
    note="model settings and the per-axis target normalisation (mean, std)")


@dataclass(frozen=True)
class Window:
    start: int  # first sample
    length: int  # real (unpadded) samples
    weight: float  # share of real audio in the window


def windows(num_samples: int, sample_rate: int = SAMPLE_RATE, seconds: float = WINDOW_SECONDS) -> list[Window]:
    """Windows of `seconds` starting every `seconds`; the last one is padded and down-weighted."""
    size = int(seconds * sample_rate)
    return [Window(start, min(size, num_samples - start), min(size, num_samples - start) / size)
            for start in range(0, num_samples, size)]


def weighted_mean(values: np.ndarray, weights: list[float]) -> float:
    w = np.asarray(weights, dtype=np.float64)
    return float((np.asarray(values, dtype=np.float64) * w).sum() / w.sum())


@contextmanager
def _encoder_config(overrides: dict):
    """AesMultiOutput builds its WavLM from a module-level config: swap it while constructing."""
    from audiobox_aesthetics.model import aes
    from audiobox_aesthetics.model.wavlm import WavLMConfig

    default = aes.DEFAULT_AUDIO_CFG
    if overrides:
        aes.DEFAULT_AUDIO_CFG = WavLMConfig({**default.__dict__, **overrides})
    try:
        yield aes.AesMultiOutput
    finally:
        aes.DEFAULT_AUDIO_CFG = default


def _encoder_overrides(settings: dict) -> dict:
    """Settings as WavLMConfig wants them: conv layers as the string it evaluates, built here from
    integers only (the package `eval`s that string, so no text from a file may reach it)."""
    layers = settings.get("conv_feature_layers")
    if layers is None:
        return settings
    if not all(len(layer) == 3 and all(type(x) is int for x in layer) for layer in layers):
        raise ValueError("conv_feature_layers must be a list of [channels, kernel, stride] integers")
    return {**settings, "conv_feature_layers": repr([tuple(layer) for layer in layers])}


def load_aesthetics(model_path: Path, config_path: Path, device: str = "cpu"):
    """AesMultiOutput from the release's config.json + model.safetensors. Returns (model, override id)."""
    from safetensors.torch import load_file

    config = json.loads(config_path.read_text())
    if "target_transform" not in config:
        raise ValueError(f"{config_path}: no target_transform (per-axis mean and std)")
    settings, override_id = architecture_override(model_path, ENCODER_OVERRIDES)
    with _encoder_config(_encoder_overrides(settings)) as model_cls:
        model = model_cls(**{k: config[k] for k in MODEL_FIELDS if k in config})
    try:
        state = load_file(str(model_path))
    except Exception as exc:
        raise ValueError(f"{model_path}: not a safetensors file ({exc})") from exc
    model.load_state_dict(state)
    return model.to(device).eval(), override_id


@register("audiobox@aesthetics")
class AudioboxAesthetics(Metric):
    key = "audiobox@aesthetics"
    family = "AudioBox-Aesthetics"
    backend = "aesthetics"
    official = True
    version = "2"
    outputs = (Output("PQ", "higher"), Output("PC", "lower"), Output("CE", "higher"), Output("CU", "higher"))
    needs = ("audio@16kHz mono",)
    requires = AUDIO_ONLY  # reads no video
    weights = (AUDIOBOX_MODEL, AUDIOBOX_CONFIG)
    packages = ("audiobox_aesthetics", "safetensors")
    extra = "audio"
    batching = Batching("10 s window", cpu=8, cuda=64)
    card = ProtocolCard(
        model="AudioBox-Aesthetics AesMultiOutput (WavLM-base-plus-sized encoder, weighted layer sum, "
              "one linear head per axis), 94 M parameters",
        checkpoint=f"{AUDIOBOX_MODEL.name} + {AUDIOBOX_CONFIG.name} from {_HF} (CC-BY-4.0)",
        preprocessing="audio mixed to mono, resampled to 16 kHz (torchaudio windowed sinc); 10 s windows "
                      "every 10 s, the last zero-padded with a padding mask",
        formula="per window and axis: head output x std + mean (config target_transform); per clip: "
                "mean over windows weighted by each window's real-audio share (length / 10 s)",
        aggregation="per subset: mean of the clips' values; PC is listed lower-is-better as the "
                    "paper's tables mark it",
        reference="facebookresearch/audiobox-aesthetics 0.0.4 (PyPI) audiobox_aesthetics/infer.py "
                  "(AesPredictor.forward, make_inference_batch)",
        differences="none in the computation; mono mixing and resampling happen once per clip in "
                    "harmony_bench.media instead of per call; precision as config.json sets it",
        precision=("float32. The package runs autocast only when its `precision` setting is '16' or 'bf16', but "
                   "AesMultiOutput tests that after turning the setting into a torch dtype, so autocast never "
                   "engages (audiobox-aesthetics 0.0.4, checked here) and the reference runs the float32 "
                   "weights in float32 whatever config.json or AesPredictor(precision='bf16') says"),
        known_answer="none usable: facebookresearch/audiobox-aesthetics test/test_inference.py prints CE 6.1027, "
                     "CU 6.3574, PC 1.7401, PQ 6.7331 for sample_audio/libritts_spk-84.wav, a file the repository "
                     "does not contain, so no input can be pinned",
    )

    def load(self, paths: dict) -> None:
        self.model, override_id = load_aesthetics(paths[AUDIOBOX_MODEL.name], paths[AUDIOBOX_CONFIG.name],
                                                  self.device)
        if override_id:
            self.weights_sha256 += f";{override_id}"
        self.target = {axis: self.model.target_transform[axis] for axis in AXES}

    def score(self, clip: Clip, case: Case) -> Score:
        import torch

        audio = clip.audio_at(SAMPLE_RATE)
        wins = windows(audio.shape[0])
        if not wins:
            raise NotScorable("clip has no audio samples")
        size = WINDOW_SECONDS * SAMPLE_RATE
        wav = torch.zeros(len(wins), 1, size)
        mask = torch.zeros(len(wins), 1, size, dtype=torch.bool)
        for i, w in enumerate(wins):
            wav[i, 0, : w.length] = torch.from_numpy(audio[w.start : w.start + w.length])
            mask[i, 0, : w.length] = True
        preds = {axis: [] for axis in AXES}
        with torch.inference_mode():
            for s in batches(len(wins), self.batch_size):  # windows are independent: masks are per window
                out = self.model({"wav": wav[s].to(self.device), "mask": mask[s].to(self.device)})
                for axis in AXES:
                    preds[axis].append(out[axis].float().cpu().numpy())
        weights = [w.weight for w in wins]
        values = {}
        for axis in AXES:
            raw = np.concatenate(preds[axis])
            values[axis] = weighted_mean(raw * self.target[axis]["std"] + self.target[axis]["mean"], weights)
        return Score(values=values, details={"windows": len(wins), "window_weights": weights})
