"""Clips on disk and in memory: write an mp4 (H.264 + AAC, plus a lossless wav), decode it once.

A `Clip` is what every metric receives. It is decoded once per case; each metric asks for the
frame rate, size or sample rate its protocol needs and the converted arrays are cached on the
clip, so two metrics at 16 kHz share one resampling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np


class ClipError(ValueError):
    """A clip file that cannot be used: unreadable, no video, no audio track."""


@dataclass
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    fps: float
    audio: np.ndarray  # (N, C) float32 in [-1, 1]
    sample_rate: int
    source: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ClipError(f"{self.source}: frames must be (T, H, W, 3) uint8, got {self.frames.shape} {self.frames.dtype}")
        if self.audio.ndim == 1:
            self.audio = self.audio[:, None]
        self.audio = self.audio.astype(np.float32, copy=False)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration(self) -> float:
        """Duration of the video track in seconds."""
        return self.num_frames / self.fps

    @property
    def audio_duration(self) -> float:
        return self.audio.shape[0] / self.sample_rate

    def frame_indices_at(self, fps: float) -> np.ndarray:
        """Indices of the source frames nearest to a regular grid at `fps` (no interpolation)."""
        n = max(1, int(np.floor(self.duration * fps + 1e-6)))
        idx = np.round(np.arange(n) * self.fps / fps).astype(int)
        return np.clip(idx, 0, self.num_frames - 1)

    def video_at(self, fps: float | None = None) -> np.ndarray:
        """Frames resampled to `fps` by nearest frame (None: the native rate)."""
        if fps is None or abs(fps - self.fps) < 1e-6:
            return self.frames
        key = ("video", round(fps, 6))
        if key not in self._cache:
            self._cache[key] = self.frames[self.frame_indices_at(fps)]
        return self._cache[key]

    def audio_at(self, sample_rate: int, mono: bool = True) -> np.ndarray:
        """Audio at `sample_rate`: (N,) when mono (channel mean), else (N, C). float32."""
        key = ("audio", sample_rate, mono)
        if key not in self._cache:
            audio = self.audio.mean(axis=1) if mono else self.audio
            self._cache[key] = resample(audio, self.sample_rate, sample_rate)
        return self._cache[key]


def resample(audio: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Band-limited resampling along axis 0 (torchaudio's windowed sinc, its default settings)."""
    if orig_sr == new_sr:
        return audio.astype(np.float32, copy=False)
    import torch
    import torchaudio.functional as AF

    x = torch.from_numpy(np.ascontiguousarray(audio.T if audio.ndim == 2 else audio, dtype=np.float32))
    y = AF.resample(x, orig_sr, new_sr).numpy()
    return np.ascontiguousarray(y.T if audio.ndim == 2 else y)


def write_clip(path: str | Path, frames: np.ndarray, fps: float, audio: np.ndarray, sample_rate: int,
               wav: bool = True, crf: int = 18) -> Path:
    """Write `frames` (T, H, W, 3 uint8) and `audio` ((N,) or (N, C) float) as H.264 + AAC mp4.

    With `wav`, the exact samples also go to `<stem>.wav` beside it: AAC adds encoder priming and
    is lossy, which would blur the timing that the sync metrics measure.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:  # yuv420p needs even sizes
        frames = frames[:, : h - h % 2, : w - w % 2]
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    audio = np.clip(audio, -1.0, 1.0)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")  # two writers never share a temporary
    with av.open(str(tmp), mode="w", format="mp4") as container:
        vs = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        vs.width, vs.height = frames.shape[2], frames.shape[1]
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": str(crf), "preset": "veryfast"}
        layout = "mono" if audio.shape[1] == 1 else "stereo"
        aus = container.add_stream("aac", rate=sample_rate, layout=layout)
        for frame in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        chunk = 1024
        for start in range(0, audio.shape[0], chunk):
            block = np.ascontiguousarray(audio[start : start + chunk].T)  # planar (C, n)
            af = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            af.sample_rate = sample_rate
            af.pts = start
            for packet in aus.encode(af):
                container.mux(packet)
        for packet in aus.encode():
            container.mux(packet)
    tmp.replace(path)
    if wav:
        write_float_wav(path.with_suffix(".wav"), audio, sample_rate)
    return path


def write_float_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """32-bit float WAV written byte for byte from the samples. libsndfile adds a PEAK chunk with
    a time stamp, so two writes of the same clip differed and its sha256 could not tie scores to
    a clip."""
    import struct

    data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
    channels = audio.shape[1]
    fmt = struct.pack("<HHIIHH", 3, channels, sample_rate, sample_rate * 4 * channels, 4 * channels, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    tmp.replace(path)


def read_clip(video_path: str | Path, audio_path: str | Path | None = None) -> Clip:
    """Decode a clip. Audio comes from `audio_path` when given, else `<stem>.wav` beside the
    video when it exists, else the mp4's own audio track. Raises ClipError with the reason."""
    import av
    import soundfile as sf

    video_path = Path(video_path)
    if not video_path.is_file():
        raise ClipError(f"{video_path}: file not found")
    if audio_path is None and video_path.with_suffix(".wav").is_file():
        audio_path = video_path.with_suffix(".wav")
    try:
        with av.open(str(video_path)) as container:
            if not container.streams.video:
                raise ClipError(f"{video_path}: no video stream")
            vstream = container.streams.video[0]
            fps = float(vstream.average_rate or vstream.guessed_rate or 0)
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(vstream)]
        audio = sr = None
        if audio_path is None:
            with av.open(str(video_path)) as container:
                if not container.streams.audio:
                    raise ClipError(f"{video_path}: no audio track (and no .wav beside it)")
                astream = container.streams.audio[0]
                sr = astream.rate
                chunks = [f.to_ndarray() for f in container.decode(astream)]
            if not chunks:
                raise ClipError(f"{video_path}: audio track holds no samples")
            audio = _planar_to_nc(chunks)
    except ClipError:
        raise
    except Exception as exc:  # PyAV raises many error types for damaged files
        raise ClipError(f"{video_path}: cannot decode ({type(exc).__name__}: {exc})") from exc
    if not frames:
        raise ClipError(f"{video_path}: video stream holds no frames")
    if fps <= 0:
        raise ClipError(f"{video_path}: unknown frame rate")
    if audio_path is not None:
        try:
            audio, sr = sf.read(str(audio_path), dtype="float32", always_2d=True)
        except Exception as exc:
            raise ClipError(f"{audio_path}: cannot read audio ({exc})") from exc
    return Clip(frames=np.stack(frames), fps=fps, audio=audio, sample_rate=int(sr), source=str(video_path))


def _planar_to_nc(chunks: list[np.ndarray]) -> np.ndarray:
    """PyAV audio frames (planar (C, n) or packed (1, n*C)) -> (N, C) float32."""
    arrays = []
    for a in chunks:
        a = a.astype(np.float32)
        if np.issubdtype(chunks[0].dtype, np.integer):
            a /= float(np.iinfo(chunks[0].dtype).max)
        arrays.append(a)
    return np.concatenate(arrays, axis=1).T
