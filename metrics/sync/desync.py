"""DeSync: Synchformer's predicted audio-visual offset (paper C.2; av-benchmark's protocol).

The clip is cut into 16-frame video segments (step 8) at 25 fps and 0.64 s audio segments
(step 0.32 s) at 16 kHz; 14 consecutive segments make one 4.8 s window. Synchformer classifies
the first and the last window over 21 offsets in [-2, +2] s; DeSync = the mean |offset| of the
two windows, in seconds (a clip of exactly 4.8-5.1 s has one window, counted twice as in
av-benchmark). Clips shorter than 4.8 s have no window and get no number.

The preprocessing, windowing, offset grid and aggregation are ours, and so is the network
(`synchformer_model.py`): its parameter names follow the official `synchformer_state_dict.pth`,
which loads into it strictly, and its outputs matched av-benchmark's `Synchformer` on shared random
weights to about 1e-5 (features) and 3e-6 (logits). A random-weight test file may carry a smaller
architecture in `synchformer_state_dict.pth.arch.json`; its hash then joins the recorded weights hash.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Callable

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.weights import HubFile, WeightFile
from harmony_bench.metrics.base import (AMBIENT_SUBSETS, Batching, InputNeeds, Metric, NotScorable, Output, ProtocolCard,
                                        Score)
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.video.frames import batches

FPS = 25
SIZE = 224
SEG_FRAMES, SEG_STEP = 16, 8
SAMPLE_RATE = 16000
SEG_SAMPLES, SEG_HOP = 10240, 5120  # 0.64 s, 0.32 s
WINDOW_SEGMENTS = 14  # 4.8 s
WINDOW_SECONDS = (WINDOW_SEGMENTS - 1) * SEG_STEP / FPS + SEG_FRAMES / FPS
OFFSET_GRID = np.linspace(-2.0, 2.0, 21)  # seconds, av-benchmark make_class_grid(-2, 2, 21)
MEL = {"sample_rate": SAMPLE_RATE, "win_length": 400, "hop_length": 160, "n_fft": 1024, "n_mels": 128}
MEL_FRAMES = 66
MEL_MEAN, MEL_STD = -4.2677393, 4.5689974  # av-benchmark's normalisation (AudioSet statistics)

SYNCHFORMER = WeightFile(
    name="synchformer_state_dict.pth",
    sha256="8aff082f2df5c3bc52759db0c865c7ee772ae6400b860d1b7e90413f2defb67c",
    source="https://huggingface.co/hkchengrex/MMAudio/resolve/main/ext_weights/synchformer_state_dict.pth "
           "(the file av-benchmark's README points to; from v-iashin/Synchformer 24-01-04T16-39-21, AudioSet)",
    licence="MIT (Synchformer)",
    size_bytes=950_058_171,
    hub=HubFile("hkchengrex/MMAudio", "main", "ext_weights/synchformer_state_dict.pth"),
    hash_source="git-LFS pointer, huggingface.co/hkchengrex/MMAudio ext_weights/ (MMAudio's download_utils "
                "lists md5 5b2f5594b0730f70e41e549b7c94390c for it)",
    note="a plain state dict of float32 tensors (the training checkpoint's 'model' entry with the "
         "audio/vision feature extractors only)",
)


def load_synchformer(path: Path):
    """(model, override id) from a state dict file, with the architecture of its `.arch.json`
    override when there is one (random-weight test files), else the official size."""
    import torch

    from harmony_bench.metrics.audio.checkpoints import architecture_override
    from harmony_bench.metrics.sync.synchformer_model import Synchformer, SynchformerConfig

    settings, override_id = architecture_override(path, {f.name: int for f in fields(SynchformerConfig)})
    model = Synchformer(SynchformerConfig(**settings))
    model.load_state_dict(torch.load(str(path), map_location="cpu", weights_only=True), strict=True)
    return model, override_id


@register("desync@synchformer")
class DeSyncMetric(Metric):
    key = "desync@synchformer"
    family = "DeSync"
    backend = "synchformer"
    official = True
    version = "3"
    outputs = (Output("DeSync", "lower"),)
    subsets = AMBIENT_SUBSETS
    requires = InputNeeds(sound=True, motion=True)  # an offset needs events on both sides
    needs = ("frames@25fps 224px", "audio@16kHz mono")
    weights = (SYNCHFORMER,)
    batching = Batching("16-frame video segment (and its 0.64 s audio segment)", cpu=14, cuda=64)
    card = ProtocolCard(
        model=("Synchformer (Iashin et al., ICASSP 2024), AudioSet sync model; native PyTorch re-implementation "
               "of av-benchmark's architecture (metrics/sync/synchformer_model.py)"),
        checkpoint="synchformer_state_dict.pth (state dict, weights_only=True, loaded strictly)",
        preprocessing=("25 fps nearest frame; short side resized to 224 (bicubic, antialiased) and centre-cropped, "
                       "scaled to [-1, 1]; 16 kHz mono; video segments 16 frames step 8, audio segments 10240 "
                       "samples step 5120 -> log(mel 128, n_fft 1024, win 400, hop 160 + 1e-6), padded/truncated "
                       "to 66 frames, (x + 4.2677) / (2 * 4.5690)"),
        formula="per window: offset = grid[argmax logits], grid = 21 values in [-2, 2] s; DeSync = mean |offset|",
        aggregation=("per clip: mean over the first and the last 14-segment (4.8 s) window; per subset: mean over "
                     "clips; clips shorter than 4.8 s are unscorable"),
        reference="hkchengrex/av-benchmark 050a5cd (extract_video.encode_video_with_sync, evaluate DeSync, "
                  "av_bench/synchformer/)",
        differences=("video and audio are truncated to their common duration; the whole clip is used, where "
                     "av-benchmark truncates to its --audio_length (8 s by default); the network is our "
                     "re-implementation (scaled-dot-product attention kernels), whose features and logits "
                     "match av-benchmark's to 5e-7 on a seeded full-size checkpoint (tests/metrics/sync/"
                     "data/synchformer_reference.npz), so only near-tied classes could differ"),
        precision="float32, as av-benchmark 050a5cd (no autocast)",
        known_answer=("published: offset class and probability for two clips shipped in v-iashin/Synchformer "
                      "b66668a (README.md Examples; the PyAV version moves the probability); harmony-bench weights "
                      "check runs example.py's transforms on them"),
    )

    def __init__(self, device: str = "cpu", architecture: Callable | None = None):
        """`architecture`: a builder of a module with Synchformer's interface (extract_vfeats,
        extract_afeats, compare_v_a) to use instead of the native network, e.g. av-benchmark's
        `Synchformer` for a cross-check."""
        super().__init__(device)
        self.architecture = architecture
        self.model = None

    def load(self, paths: dict) -> None:
        path = paths[SYNCHFORMER.name]
        if self.architecture is None:
            model, override_id = load_synchformer(path)
            if override_id:
                self.weights_sha256 += f";{override_id}"
        else:
            import torch

            model = self.architecture()
            model.load_state_dict(torch.load(str(path), map_location="cpu", weights_only=True))
        self.model = model.to(self.device).eval()

    def score(self, clip: Clip, case: Case) -> Score:
        video, audio = common_span(clip.video_at(FPS), clip.audio_at(SAMPLE_RATE))
        n_segments = min(segment_count(len(video), SEG_FRAMES, SEG_STEP), segment_count(len(audio), SEG_SAMPLES, SEG_HOP))
        if n_segments < WINDOW_SEGMENTS:
            raise NotScorable(f"clip shorter than one {WINDOW_SECONDS:.1f} s Synchformer window "
                              f"({max(n_segments, 0)} of {WINDOW_SEGMENTS} segments)")
        offsets = self.window_offsets(video, audio, n_segments)
        return Score(values={"DeSync": float(np.mean(np.abs(offsets)))},
                     details={"window_offsets_s": [float(o) for o in offsets], "segments": n_segments,
                              "sign": "as Synchformer's class grid"})

    def window_offsets(self, video: np.ndarray, audio: np.ndarray, n_segments: int) -> np.ndarray:
        """Predicted offset (s) of the first and the last window. Only the segments the two windows
        use are encoded: a segment's features depend on that segment alone."""
        import torch

        kept = kept_segments(n_segments)
        with torch.inference_mode():
            vfeat = self.segment_features(self.model.extract_vfeats, video_segments(video, kept))
            afeat = self.segment_features(self.model.extract_afeats, audio_segments(audio, kept))
            offsets = []
            for window in window_slices(len(kept)):
                logits = self.model.compare_v_a(vfeat[:, window], afeat[:, window])
                offsets.append(OFFSET_GRID[int(logits.argmax(dim=-1)[0])])
        return np.asarray(offsets)

    def segment_features(self, extract: Callable, segments):
        """(1, S, ...) features of (S, ...) segments, `batch_size` segments a forward pass: each
        segment's features depend on that segment alone (as av-benchmark, which folds segments
        into the batch)."""
        import torch

        parts = [extract(segments[s][None].to(self.device)) for s in batches(len(segments), self.batch_size)]
        return torch.cat(parts, dim=1)


def common_span(video: np.ndarray, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both streams cut to the shorter one's duration."""
    seconds = min(len(video) / FPS, len(audio) / SAMPLE_RATE)
    return video[: int(round(seconds * FPS))], audio[: int(round(seconds * SAMPLE_RATE))]


def segment_count(length: int, size: int, step: int) -> int:
    return (length - size) // step + 1 if length >= size else 0


def kept_segments(n_segments: int) -> list[int]:
    """The segments of the first and the last window, in order: all of them up to 28 segments
    (9.3 s), so the windows are still the first and the last 14 of this list."""
    return sorted(set(range(WINDOW_SEGMENTS)) | set(range(n_segments - WINDOW_SEGMENTS, n_segments)))


def window_slices(n_segments: int) -> list[slice]:
    """The first and the last 14 segments (the same slice twice when there are exactly 14)."""
    return [slice(0, WINDOW_SEGMENTS), slice(n_segments - WINDOW_SEGMENTS, n_segments)]


def video_segments(frames: np.ndarray, segments: list[int]):
    """(S, 16, 3, 224, 224) float in [-1, 1] of the given segments, from (T, H, W, 3) uint8 frames
    at 25 fps; each frame is resized once even where segments overlap."""
    import torch
    from torchvision.transforms.v2 import functional as F

    used = sorted({f for i in segments for f in range(i * SEG_STEP, i * SEG_STEP + SEG_FRAMES)})
    x = torch.from_numpy(np.ascontiguousarray(frames[used])).permute(0, 3, 1, 2)
    x = F.resize(x, SIZE, interpolation=F.InterpolationMode.BICUBIC, antialias=True)
    x = F.center_crop(x, [SIZE, SIZE]).float() / 255.0
    x = (x - 0.5) / 0.5
    at = {f: k for k, f in enumerate(used)}  # a segment's 16 frames sit next to each other in `used`
    return torch.stack([x[at[i * SEG_STEP] : at[i * SEG_STEP] + SEG_FRAMES] for i in segments])


def audio_segments(audio: np.ndarray, segments: list[int]):
    """(S, 1, 128, 66) normalised log-mel of the given 0.64 s audio segments."""
    import torch
    import torchaudio

    wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    segs = torch.stack([wave[i * SEG_HOP : i * SEG_HOP + SEG_SAMPLES] for i in segments])
    mel = torch.log(torchaudio.transforms.MelSpectrogram(**MEL)(segs) + 1e-6)
    frames = mel.shape[-1]
    if frames < MEL_FRAMES:
        mel = torch.nn.functional.pad(mel, (0, MEL_FRAMES - frames))
    mel = mel[..., :MEL_FRAMES]
    return ((mel - MEL_MEAN) / (2 * MEL_STD)).unsqueeze(1)
