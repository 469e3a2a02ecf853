"""Faces for the lip-sync metrics: scene cuts, tracking, SyncNet crops and lip opening.

Two detectors feed the same tracker: S3FD (`s3fd.py`, syncnet_python's, used by `syncnet@v2`)
and mediapipe 0.10.21's BlazeFace short-range model (shipped inside the wheel, no weights to
fetch; the `syncnet@v2-blazeface` variant). Scene cuts are PySceneDetect 0.5.1's
ContentDetector as `run_pipeline.py` calls it (threshold 30, 15-frame minimum scene, mean
absolute HSV difference on frames subsampled by its default factor for the frame width).
Tracking is syncnet_python's `track_shot`: greedy, a detection joins a track when its IoU with
the track's last box exceeds 0.5 and at most 25 frames were missed; boxes are linearly
interpolated over the gaps; `TrackRule` says which tracks are kept. The crop is
syncnet_python's `crop_video`: box size and centre median-filtered over 13 frames, a square of
side 2*s*(1 + 0.4) around the centre, shifted down by 0.4*s so the mouth sits in the lower half,
grey (110) padding, resized to 224 px.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass
from typing import Iterable

import numpy as np

IOU_THRESHOLD = 0.5
MAX_GAP = 25  # frames a track may miss (syncnet_python num_failed_det)
SCENE_THRESHOLD = 30.0  # PySceneDetect 0.5.1 ContentDetector defaults, as run_pipeline.py uses them
MIN_SCENE = 15  # frames
# VideoManager.set_downscale_factor(): frames at least this wide are subsampled by this step
DOWNSCALE = ((3200, 12), (2100, 8), (1700, 6), (1200, 5), (900, 4), (600, 3), (400, 2))
CROP_SCALE = 0.4
PAD_VALUE = 110
MEDIAN_KERNEL = 13
# Face-mesh landmarks: inner-lip pairs (upper, lower) and forehead-chin for the face height.
LIP_PAIRS = ((13, 14), (82, 87), (312, 317))
FACE_TOP, FACE_BOTTOM = 10, 152


@dataclass
class FaceTrack:
    frames: np.ndarray  # (n,) consecutive frame indices
    boxes: np.ndarray  # (n, 4) x1, y1, x2, y2 in pixels

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class TrackRule:
    """Which greedy IoU tracks are kept.

    syncnet_python (`by_span=False`): more than `min_track` detections and a mean box width or
    height over `min_face_px`. The BlazeFace variant (`by_span=True`): a span, first to last
    frame with bridged gaps counted, of at least `min_track` frames.
    """

    min_track: int
    min_face_px: float
    by_span: bool = False

    def keeps(self, frames: list[int], mean_size: float) -> bool:
        long_enough = (frames[-1] - frames[0] + 1 >= self.min_track and len(frames) > 1) if self.by_span \
            else len(frames) > self.min_track
        return long_enough and mean_size > self.min_face_px


@dataclass
class LipTrack:
    frames: np.ndarray  # (n,) consecutive frame indices
    opening: np.ndarray  # (n,) inner-lip gap / face height, gaps interpolated
    centres: np.ndarray  # (n, 2) face centre (x, y) in pixels

    def __len__(self) -> int:
        return len(self.frames)


_SILENCE = {"lock": threading.Lock(), "depth": 0, "saved": -1}


@contextlib.contextmanager
def _native_stderr_silenced():
    """mediapipe's C++ side logs to file descriptor 2 before absl is initialised (GLOG settings
    do not reach it), once per graph: point fd 2 at /dev/null while a graph lives. Counted, so
    that graphs living at once on several threads (metrics scored together) restore fd 2 once,
    when the last one ends."""
    with _SILENCE["lock"]:
        if _SILENCE["depth"] == 0:
            sys.stderr.flush()
            _SILENCE["saved"] = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _SILENCE["depth"] += 1
    try:
        yield
    finally:
        with _SILENCE["lock"]:
            _SILENCE["depth"] -= 1
            if _SILENCE["depth"] == 0:
                sys.stderr.flush()
                os.dup2(_SILENCE["saved"], 2)
                os.close(_SILENCE["saved"])


def detect_faces(frames: np.ndarray, min_confidence: float = 0.5) -> list[np.ndarray]:
    """Per frame a (k, 4) array of face boxes (x1, y1, x2, y2, pixels) from BlazeFace."""
    import mediapipe as mp

    h, w = frames.shape[1:3]
    out = []
    with _native_stderr_silenced(), \
            mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=min_confidence) as det:
        for frame in frames:
            found = det.process(np.ascontiguousarray(frame)).detections or []
            boxes = []
            for d in found:
                b = d.location_data.relative_bounding_box
                boxes.append([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h])
            out.append(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def track_faces(detections: list[np.ndarray], rule: TrackRule, first_frame: int = 0) -> list[FaceTrack]:
    """Greedy IoU tracks through one shot (rows x1, y1, x2, y2[, score]), gaps interpolated.

    `first_frame`: the shot's first frame in the clip, so that the tracks' frames are the clip's.
    """
    pending = [[box[:4] for box in boxes] for boxes in detections]
    tracks = []
    while any(pending):
        frames, boxes = [], []
        for t, candidates in enumerate(pending):
            if frames and t - frames[-1] > MAX_GAP:
                break
            for k, box in enumerate(candidates):
                if not frames or iou(box, boxes[-1]) > IOU_THRESHOLD:
                    frames.append(t)
                    boxes.append(box)
                    del candidates[k]
                    break
        span = np.arange(frames[0], frames[-1] + 1)
        boxes = np.stack(boxes)
        interp = np.stack([np.interp(span, frames, boxes[:, j]) for j in range(4)], axis=1)
        size = max((interp[:, 2] - interp[:, 0]).mean(), (interp[:, 3] - interp[:, 1]).mean())
        if rule.keeps(frames, size):
            tracks.append(FaceTrack(frames=span + first_frame, boxes=interp))
    return tracks


def scene_cuts(frames: np.ndarray) -> list[int]:
    """Frames where a new shot starts (PySceneDetect 0.5.1 ContentDetector on RGB frames)."""
    import cv2

    step = next((f for width, f in DOWNSCALE if frames.shape[2] >= width), 1)
    cuts, last_cut, previous = [], None, None
    for t, frame in enumerate(frames):
        hsv = cv2.cvtColor(np.ascontiguousarray(frame[::step, ::step]), cv2.COLOR_RGB2HSV).astype(np.int32)
        if previous is not None:
            delta = np.abs(hsv - previous).reshape(-1, 3).sum(axis=0) / (hsv.shape[0] * hsv.shape[1])
            if delta.mean() >= SCENE_THRESHOLD and (last_cut is None or t - last_cut >= MIN_SCENE):
                cuts.append(t)
                last_cut = t
        previous = hsv
    return cuts


def track_shots(detections: list[np.ndarray], cuts: list[int], rule: TrackRule) -> list[FaceTrack]:
    """run_pipeline.py's tracking: each shot of at least `min_track` frames tracked on its own."""
    bounds = [0, *cuts, len(detections)]
    tracks = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        if stop - start >= rule.min_track:
            tracks += track_faces(detections[start:stop], rule, first_frame=start)
    return tracks


def crop_track(frames: np.ndarray, track: FaceTrack, size: int = 224) -> np.ndarray:
    """(n, size, size, 3) crops of the track's frames, syncnet_python's crop geometry."""
    import cv2
    from scipy.signal import medfilt

    half = np.maximum(track.boxes[:, 2] - track.boxes[:, 0], track.boxes[:, 3] - track.boxes[:, 1]) / 2
    cx = (track.boxes[:, 0] + track.boxes[:, 2]) / 2
    cy = (track.boxes[:, 1] + track.boxes[:, 3]) / 2
    half, cx, cy = (medfilt(v, kernel_size=MEDIAN_KERNEL) for v in (half, cx, cy))
    crops = np.empty((len(track), size, size, 3), dtype=np.uint8)
    for i, t in enumerate(track.frames):
        s = half[i]
        pad = int(s * (1 + 2 * CROP_SCALE))
        my, mx = cy[i] + pad, cx[i] + pad
        rows = (int(my - s), int(my + s * (1 + 2 * CROP_SCALE)))
        cols = (int(mx - s * (1 + CROP_SCALE)), int(mx + s * (1 + CROP_SCALE)))
        crops[i] = cv2.resize(_window_of_padded(frames[t], pad, rows, cols), (size, size))
    return crops


def _window_of_padded(frame: np.ndarray, pad: int, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """np.pad(frame, pad, constant PAD_VALUE)[rows[0]:rows[1], cols[0]:cols[1]] without building
    the padded frame, whose size grows with the box (a large box cost 0.1 s a frame)."""
    h, w = frame.shape[:2]
    inside = all(0 <= a <= b <= n + 2 * pad for (a, b), n in ((rows, h), (cols, w)))
    if not inside:  # negative or reversed bounds: numpy's own slicing rules decide, as in the reference
        return np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), constant_values=PAD_VALUE)[
            rows[0] : rows[1], cols[0] : cols[1]]
    out = np.full((rows[1] - rows[0], cols[1] - cols[0], frame.shape[2]), PAD_VALUE, frame.dtype)
    y0, y1 = max(rows[0] - pad, 0), min(rows[1] - pad, h)
    x0, x1 = max(cols[0] - pad, 0), min(cols[1] - pad, w)
    if y0 < y1 and x0 < x1:
        out[y0 + pad - rows[0] : y1 + pad - rows[0], x0 + pad - cols[0] : x1 + pad - cols[0]] = frame[y0:y1, x0:x1]
    return out


def lip_tracks(frames: Iterable[np.ndarray], min_track: int, max_faces: int = 4) -> list[LipTrack]:
    """Face-mesh lip opening per face, faces associated frame to frame by nearest centre."""
    per_frame = _mesh_measurements(frames, max_faces)
    open_tracks: list[dict] = []
    for t, faces in enumerate(per_frame):
        taken = set()
        for centre, height, opening in faces:
            live = [tr for tr in open_tracks if id(tr) not in taken and t - tr["t"][-1] <= MAX_GAP]
            near = min(live, key=lambda tr: np.hypot(*(tr["c"][-1] - centre)), default=None)
            if near is None or np.hypot(*(near["c"][-1] - centre)) > 0.5 * height:
                near = {"t": [], "c": [], "o": []}
                open_tracks.append(near)
            near["t"].append(t)
            near["c"].append(centre)
            near["o"].append(opening)
            taken.add(id(near))
    tracks = []
    for tr in open_tracks:
        span = np.arange(tr["t"][0], tr["t"][-1] + 1)
        if len(span) < min_track:
            continue
        c = np.stack(tr["c"])
        centres = np.stack([np.interp(span, tr["t"], c[:, 0]), np.interp(span, tr["t"], c[:, 1])], axis=1)
        tracks.append(LipTrack(frames=span, opening=np.interp(span, tr["t"], tr["o"]), centres=centres))
    return tracks


def _mesh_measurements(frames: Iterable[np.ndarray], max_faces: int) -> list[list[tuple[np.ndarray, float, float]]]:
    """Per frame, per face: (centre xy px, face height px, mean inner-lip gap / face height)."""
    import mediapipe as mp

    out = []
    with _native_stderr_silenced(), \
            mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=max_faces,
                                            min_detection_confidence=0.5, min_tracking_confidence=0.5) as mesh:
        for frame in frames:
            h, w = frame.shape[:2]
            found = mesh.process(np.ascontiguousarray(frame)).multi_face_landmarks or []
            faces = []
            for face in found:
                pts = np.array([(p.x * w, p.y * h) for p in face.landmark])
                height = float(np.hypot(*(pts[FACE_TOP] - pts[FACE_BOTTOM])))
                gap = np.mean([np.hypot(*(pts[a] - pts[b])) for a, b in LIP_PAIRS])
                faces.append((pts.mean(axis=0), height, gap / max(height, 1e-6)))
            out.append(faces)
    return out
