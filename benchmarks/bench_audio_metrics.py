"""Seconds per 5 s clip for each audio metric, on CPU (and CUDA when present).

The official weights are not on this machine, so each official metric runs with its full-size
architecture at random initialisation: the same tensors and operations as with the real weights.
One exception follows from that: Whisper decodes until its end token, and random weights never
emit it, so the Whisper row decodes a fixed 20 tokens (a 5 s English sentence is about 12-20
tokens) through openai-whisper's `decode` instead of `transcribe`. The offline tiny.en backend
runs for real on espeak-ng speech. Model build / load times are printed apart from scoring.

    python benchmarks/bench_audio_metrics.py [--device cuda] [--repeats 3] [--only ib,audiobox,...]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip

SECONDS = 5.0
WHISPER_TOKENS = 20
LARGE_V3 = dict(n_mels=128, n_audio_ctx=1500, n_audio_state=1280, n_audio_head=20, n_audio_layer=32,
                n_vocab=51866, n_text_ctx=448, n_text_state=1280, n_text_head=20, n_text_layer=32)
SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


def speech_clip() -> Clip:
    """5 s, 24 fps 256x256 frames, espeak-ng speech (a tone when espeak-ng is absent), 44.1 kHz stereo."""
    sr, n = 44_100, int(SECONDS * 44_100)
    audio = 0.2 * np.sin(2 * np.pi * 220 * np.arange(n) / sr).astype(np.float32)
    if shutil.which("espeak-ng"):
        import soundfile as sf

        from harmony_bench.media import resample

        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "s.wav"
            subprocess.run(["espeak-ng", "-w", str(wav), SENTENCE], check=True)
            speech, speech_sr = sf.read(str(wav), dtype="float32")
        speech = resample(speech, speech_sr, sr)[:n]
        audio = np.zeros(n, np.float32)
        audio[: speech.shape[0]] = speech
    frames = np.random.default_rng(0).integers(0, 256, (int(SECONDS * 24), 256, 256, 3), dtype=np.uint8)
    return Clip(frames=frames, fps=24.0, audio=np.stack([audio, audio], axis=1), sample_rate=sr)


CASE = Case(id="bench", subset="complex", video_caption="A man talks by a river.", audio_caption="water flowing",
            spoken_word_en=SENTENCE, language="en", reference_image="x.png", reference_audio="x.wav")


def build_audiobox(device):
    from harmony_bench.metrics.audio.audiobox import AXES, AudioboxAesthetics, _encoder_config

    metric = AudioboxAesthetics(device)
    with _encoder_config({}) as model_cls:
        metric.model = model_cls(target_transform={a: {"mean": 5.5, "std": 1.5} for a in AXES}).to(device).eval()
    metric.target = metric.model.target_transform
    return metric, metric.score


def build_imagebind(device):
    from harmony_bench.metrics.audio.imagebind import HUGE, ImageBindScores, _imagebind_modules

    metric = ImageBindScores(device)
    model_cls, metric.tokenizer = _imagebind_modules()
    metric.model = model_cls(**HUGE).to(device).eval()
    return metric, metric.score


def build_whisper(device):
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    model = Whisper(ModelDimensions(**LARGE_V3)).to(device).eval()
    options = whisper.DecodingOptions(language="en", without_timestamps=True, sample_len=WHISPER_TOKENS,
                                      fp16=device.startswith("cuda"))

    def run(clip, case):
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(clip.audio_at(16_000))),
                                          n_mels=model.dims.n_mels).to(device)
        return whisper.decode(model, mel, options)

    return model, run


def build_offline_asr(device):
    from harmony_bench.metrics.audio.wer import FasterWhisperTinyEnWer

    metric = FasterWhisperTinyEnWer(device)
    if metric.availability():
        raise RuntimeError(metric.availability())
    metric.setup()
    return metric, metric.score


BUILDERS = {"audiobox": ("audiobox@aesthetics (PQ/PC/CE/CU)", build_audiobox),
            "ib": ("ib@imagebind-huge (IB-A + IB)", build_imagebind),
            "whisper": (f"wer@whisper-large-v3 ({WHISPER_TOKENS} tokens)", build_whisper),
            "offline-asr": ("wer@faster-whisper-tiny.en", build_offline_asr)}


def bench(name: str, device: str, repeats: int, clip_factory) -> str:
    import torch

    label, build = BUILDERS[name]
    t0 = time.perf_counter()
    try:
        owner, run = build(device)
    except Exception as exc:
        return f"{label:<40} {device:<5} not run: {type(exc).__name__}: {exc}"
    build_s = time.perf_counter() - t0
    times = []
    for i in range(repeats + 1):  # the first call warms caches and allocators
        clip = clip_factory()  # fresh clip: resampling and frame sampling are counted every time
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        run(clip, CASE)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t)
    del owner, run
    gc.collect()
    return f"{label:<40} {device:<5} {np.median(times):8.2f} {min(times):8.2f} {build_s:9.1f}"


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="append", help="cpu, cuda (default: cpu, plus cuda when present)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=",".join(BUILDERS), help=f"comma-separated of {', '.join(BUILDERS)}")
    args = parser.parse_args()
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    torch.manual_seed(0)
    base = speech_clip()

    def clip_factory():
        return Clip(frames=base.frames, fps=base.fps, audio=base.audio, sample_rate=base.sample_rate)

    print(f"# audio metrics, seconds per {SECONDS:.0f} s clip (44.1 kHz stereo audio, 24 fps 256x256 video)")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    print("# random-initialised full-size architectures (see the script's docstring); median and best of "
          f"{args.repeats} after one warm-up; build = model construction time")
    print(f"{'metric':<40} {'dev':<5} {'median_s':>8} {'best_s':>8} {'build_s':>9}")
    for device in devices:
        for name in args.only.split(","):
            print(bench(name, device, args.repeats, clip_factory), flush=True)


if __name__ == "__main__":
    main()
