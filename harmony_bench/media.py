"""Clips on disk and in memory: write an mp4 (H.264 + AAC, plus a lossless wav), decode on demand.

A `Clip` is what every metric receives. Its audio is read once (small). Its video is decoded
once, when the clip is opened, and kept in memory if all its frames fit in DECODE_ONCE_BYTES
(a 5 s 480x832 clip is 144 MB): every metric then reads the same array. A larger clip is
decoded from the file each time a metric streams it (`stream`), one frame at a time at the
frame rate the metric asks for, so memory stays bounded by the budget plus a few frames
whatever the clip's size or length.
Metrics that need random access ask for `video_at(fps)`, a materialised array cached on the clip
(cheap at low rates; at the native rate it is the whole clip). Converted audio is cached too, so
two metrics at 16 kHz share one resampling.
A clip may lack one track (a video-only or audio-only generator): the missing track is None,
and only the metrics that read the other track alone score it (metrics/base.py, InputNeeds).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

DECODE_ONCE_BYTES = 256 * 2**20  # frames (uint8 RGB) kept in memory when a clip is opened


class ClipError(ValueError):
    """A clip file that cannot be used: unreadable, or neither a video nor an audio track."""


@dataclass(frozen=True)
class VideoFile:
    """The video stream of a file, decoded on demand and never held whole in memory."""

    path: Path
    count: int  # decoded frames, counted when the clip was opened
    height: int
    width: int

    def frames(self, indices: np.ndarray) -> Iterator[np.ndarray]:
        """The frames at ascending `indices` (repeats allowed) as (H, W, 3) uint8 RGB."""
        import av

        pos = 0
        with av.open(str(self.path)) as container:
            for i, frame in enumerate(container.decode(container.streams.video[0])):
                if pos == len(indices):
                    return
                if indices[pos] != i:
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                while pos < len(indices) and indices[pos] == i:
                    yield rgb
                    pos += 1


@dataclass(frozen=True)
class PictureStats:
    """What the degenerate-input checks need from the picture, from one pass over every frame."""

    max_spatial_std: float  # grey levels, the most textured frame's std over its pixels
    max_change: float  # grey levels, the largest change of one pixel between consecutive frames


class Clip:
    """One clip: video (an in-memory (T, H, W, 3) uint8 RGB array, or a `VideoFile`) and audio
    ((N,) or (N, C)). Either track may be None, not both: the clip has no such track."""

    def __init__(self, frames: np.ndarray | VideoFile | None, fps: float, audio: np.ndarray | None,
                 sample_rate: int, source: str = ""):
        self.source = source
        if isinstance(frames, np.ndarray) and (frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8):
            raise ClipError(f"{source}: frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
        if frames is None and audio is None:
            raise ClipError(f"{source}: neither a video nor an audio track")
        self._video = frames
        self.fps = fps
        self.audio: np.ndarray | None = None  # (N, C) float32
        if audio is not None:
            audio = np.asarray(audio)
            self.audio = (audio[:, None] if audio.ndim == 1 else audio).astype(np.float32, copy=False)
        self.sample_rate = sample_rate
        self._cache: dict = {}
        self._filling = threading.RLock()  # metrics scored on several threads share one computation

    def _cached(self, key: tuple, compute: Callable[[], object]):
        with self._filling:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    @property
    def has_video(self) -> bool:
        return self._video is not None

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    def _require(self, track: str) -> None:
        """Reading a track the clip lacks is a bug of the caller: metrics declare what they read."""
        if not (self.has_video if track == "video" else self.has_audio):
            raise ClipError(f"{self.source}: the clip has no {track} track")

    @property
    def num_frames(self) -> int:
        v = self._video
        if v is None:
            return 0
        return v.count if isinstance(v, VideoFile) else int(v.shape[0])

    @property
    def height(self) -> int:
        self._require("video")
        v = self._video
        return v.height if isinstance(v, VideoFile) else int(v.shape[1])

    @property
    def width(self) -> int:
        self._require("video")
        v = self._video
        return v.width if isinstance(v, VideoFile) else int(v.shape[2])

    @property
    def frames(self) -> np.ndarray:
        """Every frame at the native rate in one array: the whole clip in memory (tests, small
        clips); metrics stream instead."""
        return self.video_at(None)

    @property
    def duration(self) -> float:
        """Duration of the video track in seconds (0 without one)."""
        return self.num_frames / self.fps if self.has_video else 0.0

    @property
    def audio_duration(self) -> float:
        """Duration of the audio track in seconds (0 without one)."""
        return self.audio.shape[0] / self.sample_rate if self.has_audio else 0.0

    def frame_indices_at(self, fps: float | None) -> np.ndarray:
        """Indices of the source frames nearest to a regular grid at `fps` (no interpolation;
        None: every frame)."""
        if fps is None or abs(fps - self.fps) < 1e-6:
            return np.arange(self.num_frames)
        n = max(1, int(np.floor(self.duration * fps + 1e-6)))
        idx = np.round(np.arange(n) * self.fps / fps).astype(int)
        return np.clip(idx, 0, self.num_frames - 1)

    def frame_count(self, fps: float | None = None) -> int:
        """How many frames `stream(fps)` yields."""
        return len(self.frame_indices_at(fps))

    def stream(self, fps: float | None = None, every: int = 1) -> Iterator[np.ndarray]:
        """Frames resampled to `fps` by nearest frame (None: native rate), then every `every`-th
        of those, one (H, W, 3) uint8 frame at a time, decoded as they are consumed."""
        self._require("video")
        indices = self.frame_indices_at(fps)[::every]
        if isinstance(self._video, VideoFile):
            return self._video.frames(indices)
        return (self._video[i] for i in indices)  # views: no copy of the selection

    def video_at(self, fps: float | None = None) -> np.ndarray:
        """Frames resampled to `fps` by nearest frame (None: the native rate) in one array,
        cached on the clip."""
        if isinstance(self._video, np.ndarray) and (fps is None or abs(fps - self.fps) < 1e-6):
            return self._video
        def fill() -> np.ndarray:
            out = np.empty((self.frame_count(fps), self.height, self.width, 3), np.uint8)
            for i, frame in enumerate(self.stream(fps)):
                out[i] = frame
            return out

        return self._cached(("video", None if fps is None else round(fps, 6)), fill)

    def audio_at(self, sample_rate: int, mono: bool = True) -> np.ndarray:
        """Audio at `sample_rate`: (N,) when mono (channel mean), else (N, C). float32."""
        self._require("audio")
        return self._cached(("audio", sample_rate, mono),
                            lambda: resample(self.audio.mean(axis=1) if mono else self.audio, self.sample_rate, sample_rate))

    def picture_stats(self, size: int = 64) -> PictureStats:
        """Texture and change of the picture, on (size x size) grey copies of every frame; cached."""
        import cv2

        def measure() -> PictureStats:
            texture, change, previous = 0.0, 0.0, None
            for frame in self.stream():
                grey = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (size, size), interpolation=cv2.INTER_AREA)
                grey = grey.astype(np.float32)
                texture = max(texture, float(grey.std()))
                if previous is not None:
                    change = max(change, float(np.abs(grey - previous).max()))
                previous = grey
            return PictureStats(max_spatial_std=texture, max_change=change)

        return self._cached(("picture", size), measure)

    def loudest_block_db(self, block_s: float = 0.04) -> float:
        """RMS level (dBFS, over all channels) of the loudest `block_s` block of the audio; cached."""
        def measure() -> float:
            self._require("audio")
            block = max(1, int(round(block_s * self.sample_rate)))
            power = (self.audio.astype(np.float64) ** 2).mean(axis=1)
            if len(power) < block:  # shorter than one block: the whole track is the block
                levels = [power.mean() if len(power) else 0.0]
            else:
                levels = power[: len(power) // block * block].reshape(-1, block).mean(axis=1)
            return float(10.0 * np.log10(max(levels) + 1e-20))

        return self._cached(("loudest", block_s), measure)


def release_freed_memory() -> None:
    """Hand memory that is free again back to the system (glibc's malloc_trim). Once a large
    block has been freed, glibc serves blocks up to that size (up to 32 MiB) from per-thread
    arenas, which keep their peak: 4K frames, decoder planes and warp strips of one metric stayed
    held while the next metric ran, and a 3840x2160 clip scored on five metric threads held
    1.0-1.3 GB; trimmed after each metric, 0.7-0.8 GB (benchmarks/results/memory.txt). Called
    after each metric's score. Nothing to do where the C library has no malloc_trim (not glibc)."""
    import ctypes

    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


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


def read_clip(video_path: str | Path, audio_path: str | Path | None = None,
              max_cached_bytes: int = DECODE_ONCE_BYTES) -> Clip:
    """Open a clip: its audio decoded, its video decoded once, checked and counted. The frames
    are kept if they fit in `max_cached_bytes`; otherwise they are decoded again on demand.

    Audio comes from `audio_path` when given, else `<stem>.wav` beside the video when it exists,
    else the file's own audio track. A file with only one of the two tracks opens as a clip
    without the other (None). Raises ClipError with the reason."""
    import av
    import soundfile as sf

    video_path = Path(video_path)
    if not video_path.is_file():
        raise ClipError(f"{video_path}: file not found")
    if audio_path is None and video_path.with_suffix(".wav").is_file():
        audio_path = video_path.with_suffix(".wav")
    video, fps, audio, sr = None, 0.0, None, 0
    try:
        with av.open(str(video_path)) as container:
            if container.streams.video:
                video, fps = _decode_video(container, video_path, max_cached_bytes)
        if audio_path is None:
            with av.open(str(video_path)) as container:
                if container.streams.audio:
                    audio, sr = _decode_audio(container, video_path)
    except ClipError:
        raise
    except Exception as exc:  # PyAV raises many error types for damaged files
        raise ClipError(f"{video_path}: cannot decode ({type(exc).__name__}: {exc})") from exc
    if audio_path is not None:
        try:
            audio, sr = sf.read(str(audio_path), dtype="float32", always_2d=True)
        except Exception as exc:
            raise ClipError(f"{audio_path}: cannot read audio ({exc})") from exc
    if video is None and audio is None:
        raise ClipError(f"{video_path}: neither a video stream nor an audio track (and no .wav beside it)")
    return Clip(frames=video, fps=fps, audio=audio, sample_rate=int(sr), source=str(video_path))


def _decode_video(container, path: Path, max_cached_bytes: int) -> tuple[np.ndarray | VideoFile, float]:
    """Decode every frame once: damaged files fail here, and the count is exact. The frames are
    kept when they fit in `max_cached_bytes`, else described for decoding again on demand."""
    vstream = container.streams.video[0]
    fps = float(vstream.average_rate or vstream.guessed_rate or 0)
    kept = _frame_buffer(vstream, max_cached_bytes)
    count, height, width = 0, 0, 0
    for frame in container.decode(vstream):
        if kept is not None:
            if count < len(kept) and kept.shape[1:3] == (frame.height, frame.width):
                kept[count] = frame.to_ndarray(format="rgb24")
            else:  # more frames than announced, or a size change: stream instead
                kept = None
        count, height, width = count + 1, frame.height, frame.width
    if not count:
        raise ClipError(f"{path}: video stream holds no frames")
    if fps <= 0:
        raise ClipError(f"{path}: unknown frame rate")
    return (kept[:count] if kept is not None else VideoFile(path, count, height, width)), fps


def _decode_audio(container, path: Path) -> tuple[np.ndarray, int]:
    astream = container.streams.audio[0]
    chunks = [f.to_ndarray() for f in container.decode(astream)]
    if not chunks:
        raise ClipError(f"{path}: audio track holds no samples")
    return _planar_to_nc(chunks), astream.rate


def _frame_buffer(vstream, max_bytes: int) -> np.ndarray | None:
    """Room for every frame the container announces, if that fits in `max_bytes`; None (stream
    the clip) otherwise or when it announces no count."""
    n, h, w = vstream.frames or 0, vstream.codec_context.height or 0, vstream.codec_context.width or 0
    if not n * h * w or n * h * w * 3 > max_bytes:
        return None
    return np.empty((n, h, w, 3), np.uint8)


def _planar_to_nc(chunks: list[np.ndarray]) -> np.ndarray:
    """PyAV audio frames (planar (C, n) or packed (1, n*C)) -> (N, C) float32."""
    arrays = []
    for a in chunks:
        a = a.astype(np.float32)
        if np.issubdtype(chunks[0].dtype, np.integer):
            a /= float(np.iinfo(chunks[0].dtype).max)
        arrays.append(a)
    return np.concatenate(arrays, axis=1).T
