"""Regenerate tests/metrics/sync/data/s3fd_reference.npz from syncnet_python's S3FD.

    python tests/metrics/sync/make_s3fd_fixture.py /path/to/joonson/syncnet_python /path/to/PySceneDetect

The reference code is read from a local checkout (commit 6efbb1c; not part of this
repository). Its `box_utils.nms_` casts with `np.int`, removed in numpy 1.24: the script puts
the builtin `int` back under that name before importing it. The reference's `S3FD` class loads
`seeded_s3fd_state(0)` (harmony_bench.metrics.sync.testing) from a temporary `sfd_face.pth`
written in the official layout, strict keys; the fixture keeps, for seeded random pictures, what
`S3FD.detect_faces` returns with run_pipeline.py's arguments (scale 0.25, conf_th 0.9) and with
conf_th 0.5, and the first NMS stage's rows (`S3FDNet.forward`: score, relative box) for the
face class. It also runs run_pipeline.py's `track_shot` (the function's source taken from the
script with `ast`, since the script parses its arguments when imported) on seeded detection
lists (`detection_scenario`), with the reference's defaults and with shorter tracks.
`crop_video` (its source taken the same way) crops a seeded track from PNG-coded frames (lossless,
under the `.jpg` names it globs); its XVID writer is replaced by a list, and its ffmpeg audio
cut by nothing (the crop does not depend on it); every 8th pixel of each crop is kept.

The second checkout is PySceneDetect at v0.5.1 (the version syncnet_python's requirements pin):
its ContentDetector, with its defaults as run_pipeline.py's `scene_detect` uses it, and the
frame subsampling of VideoManager.set_downscale_factor(), gives the cuts of seeded clips
(`scene_clip`); since OpenCV 4.5.4 `cv2.split` returns a tuple, which 0.5.1 assigns into, so its
module sees a `split` returning a list. test_s3fd.py checks the native port, tracker and scene
cuts against them.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from harmony_bench.metrics.sync.testing import seeded_s3fd_state

OUT = Path(__file__).parent / "data" / "s3fd_reference.npz"
COMMIT = "6efbb1c"
PICTURES = ((11, 192, 256), (12, 160, 200))  # (seed, height, width)
THRESHOLDS = (0.9, 0.5)
SCENARIOS = (0, 1, 2)  # seeds of detection_scenario
SCENE_CLIPS = ((21, 72, 128), (22, 120, 640))  # (seed, height, width) of scene_clip; 640 px wide: subsampled by 3
TRACK_SETTINGS = ((100, 100), (30, 60))  # (min_track, min_face_size); the first is run_pipeline.py's default


def detection_scenario(seed: int, n_frames: int = 260) -> list[np.ndarray]:
    """Per frame (k, 5) boxes as S3FD's final NMS leaves them (faces apart), built to sit on the
    tracker's edges: face A (150 px, slow) misses 23, 24 or 25 frames in a row once (the tracker
    bridges 24); face B (95 to 115 px, near the 100 px floor) moves 3 px a frame and misses runs
    of 8 to 14 frames, so the IoU across a run falls either side of 0.5; face C (60 px) enters at
    frame 90; each face is also missed in 10% of frames; the order within a frame is shuffled."""
    rng = np.random.default_rng(seed)
    start = ((40.0, 40.0), (300.0, 60.0), (250.0, 300.0))
    speed = ((0.4, 0.2), (3.0, 0.0), (0.3, -0.2))
    side = (150.0, 95.0 + 10 * seed, 60.0)
    missing = [np.zeros(n_frames, bool) for _ in start]
    a = int(rng.integers(30, 120))
    missing[0][a : a + 23 + seed] = True
    for t in range(20, n_frames - 20, 40):  # face B: a run of 8-14 misses every 40 frames
        missing[1][t : t + int(rng.integers(8, 15))] = True
    missing[2][:90] = True
    frames = []
    for t in range(n_frames):
        rows = []
        for k in range(3):
            if missing[k][t] or rng.random() < 0.1:
                continue
            x = start[k][0] + speed[k][0] * t + rng.normal(0, 1)
            y = start[k][1] + speed[k][1] * t + rng.normal(0, 1)
            s = side[k] + rng.normal(0, 2)
            rows.append([x, y, x + s, y + s, 0.9 + 0.1 * rng.random()])
        frames.append(np.asarray(rows, float).reshape(-1, 5)[rng.permutation(len(rows))])
    return frames


def scene_clip(seed: int, height: int, width: int, n_frames: int = 120) -> np.ndarray:
    """RGB frames: shots of a flat colour with blurred texture and a little frame noise; a new
    shot every 5 to 25 frames, so some cuts come sooner than 15 frames after the last; each new
    colour is the last one moved by up to 90 levels per channel, so the changes fall on either
    side of the threshold."""
    import cv2

    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.normal(0, 20, (height, width, 3)), (9, 9), 3)
    colour = rng.integers(40, 216, 3)
    frames, t = [], 0
    while t < n_frames:
        field = np.clip(colour + texture, 0, 255)
        for _ in range(min(int(rng.integers(5, 26)), n_frames - t)):
            frames.append(np.clip(field + rng.integers(-2, 3, field.shape), 0, 255).astype(np.uint8))
            t += 1
        colour = np.clip(colour + rng.integers(-90, 91, 3), 0, 255)
    return np.stack(frames)


def reference_scene_cuts(checkout: Path, frames: np.ndarray) -> list[int]:
    """PySceneDetect 0.5.1's ContentDetector over BGR frames subsampled as its VideoManager does."""
    import cv2

    sys.path.insert(0, str(checkout))
    from scenedetect.detectors import ContentDetector, content_detector
    from scenedetect.video_manager import compute_downscale_factor

    class Cv2ListSplit:
        def __getattr__(self, name):
            return getattr(cv2, name)

        @staticmethod
        def split(image):
            return list(cv2.split(image))

    content_detector.cv2 = Cv2ListSplit()
    detector, step = ContentDetector(), compute_downscale_factor(frames.shape[2])
    cuts = []
    for t, frame in enumerate(frames):
        cuts += detector.process_frame(t, np.ascontiguousarray(frame[::step, ::step, ::-1]))
    return cuts


CROP_SUBSAMPLE = 8  # every 8th pixel of a 224 px crop kept in the fixture


def crop_scenario(n_frames: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """RGB frames of a smooth random picture and a face box that drifts, grows and jitters (the
    13-frame median filter has work to do), partly outside the frame (the grey pad shows)."""
    import cv2

    rng = np.random.default_rng(31)
    frames = cv2.GaussianBlur(rng.integers(0, 256, (n_frames, 96, 128, 3), dtype=np.uint8).reshape(-1, 128, 3),
                              (5, 5), 2).reshape(n_frames, 96, 128, 3)
    t = np.arange(n_frames)
    side = 40 + 0.8 * t + rng.normal(0, 3, n_frames)
    x1, y1 = 70 + 1.5 * t + rng.normal(0, 2, n_frames), 20 - 0.5 * t + rng.normal(0, 2, n_frames)
    return frames, np.stack([x1, y1, x1 + side, y1 + side * 1.1], axis=1)


def reference_crops(checkout: Path, frames: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """crop_video's crops of the track (all frames) as BGR, every CROP_SUBSAMPLE-th pixel."""
    import argparse
    import ast
    import glob
    import os
    import tempfile

    import cv2
    from scipy import signal

    written = []

    class Cv2Recording:
        def __getattr__(self, name):
            return getattr(cv2, name)

        @staticmethod
        def VideoWriter(path, *args):  # noqa: N802  (cv2's name)
            open(path, "wb").close()  # crop_video removes it at the end
            return type("Writer", (), {"write": lambda self, img: written.append(img), "release": lambda self: None})()

    tree = ast.parse((checkout / "run_pipeline.py").read_text())
    crop_video = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "crop_video"]
    namespace = {"np": np, "cv2": Cv2Recording(), "glob": glob, "os": os, "signal": signal,
                 "subprocess": argparse.Namespace(call=lambda *a, **k: 0),
                 "wavfile": argparse.Namespace(read=lambda path: (16000, np.zeros(0, np.int16)))}
    exec(compile(ast.Module(body=crop_video, type_ignores=[]), "run_pipeline.py", "exec"), namespace)
    with tempfile.TemporaryDirectory() as tmp:
        for t, frame in enumerate(frames):
            cv2.imwrite(os.path.join(tmp, f"{t + 1:06d}.png"), frame[..., ::-1])
            os.rename(os.path.join(tmp, f"{t + 1:06d}.png"), os.path.join(tmp, f"{t + 1:06d}.jpg"))
        opt = argparse.Namespace(frames_dir=tmp, reference="", crop_scale=0.4, frame_rate=25, tmp_dir=tmp, avi_dir=tmp)
        namespace["crop_video"](opt, {"frame": np.arange(len(frames)), "bbox": boxes}, os.path.join(tmp, "crop"))
    return np.stack(written)[:, ::CROP_SUBSAMPLE, ::CROP_SUBSAMPLE]


def reference_track_shot(checkout: Path):
    """run_pipeline.py's IoU function and track_shot, compiled from the script's own source."""
    import argparse
    import ast

    from scipy.interpolate import interp1d

    tree = ast.parse((checkout / "run_pipeline.py").read_text())
    wanted = [node for node in tree.body if isinstance(node, ast.FunctionDef)
              and node.name in ("bb_intersection_over_union", "track_shot")]
    namespace = {"np": np, "interp1d": interp1d}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), "run_pipeline.py", "exec"), namespace)

    def run(detections: list[np.ndarray], min_track: int, min_face_size: int) -> list[dict]:
        opt = argparse.Namespace(num_failed_det=25, min_track=min_track, min_face_size=min_face_size)
        scene = [[{"frame": t, "bbox": row[:4].tolist(), "conf": row[4]} for row in rows]
                 for t, rows in enumerate(detections)]
        return namespace["track_shot"](opt, scene)

    return run


def picture(seed: int, height: int, width: int) -> np.ndarray:
    """A random RGB picture, smoothed a little so the network sees structure, not pure noise."""
    import cv2

    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (5, 5), 1.5)


def main(checkout: Path, scenedetect_checkout: Path) -> None:
    np.int = int  # the reference's nms_ was written for numpy < 1.24
    sys.path.insert(0, str(checkout))
    import detectors.s3fd as reference

    out = {"commit": np.array(COMMIT), "pictures": np.array(PICTURES)}
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "sfd_face.pth"
        torch.save(seeded_s3fd_state(0), weights)
        reference.PATH_WEIGHT = str(weights)
        detector = reference.S3FD(device="cpu")
        for k, (seed, height, width) in enumerate(PICTURES):
            image = picture(seed, height, width)
            for threshold in THRESHOLDS:
                out[f"faces_{k}_{threshold}"] = detector.detect_faces(image, conf_th=threshold, scales=[0.25])
            out[f"stage1_{k}"] = first_stage(detector, image)
            print(f"picture {k}: {len(out[f'faces_{k}_0.9'])} faces at 0.9, {len(out[f'faces_{k}_0.5'])} at 0.5, "
                  f"{len(out[f'stage1_{k}'])} rows after the first NMS")
    track_shot = reference_track_shot(checkout)
    for seed in SCENARIOS:
        for min_track, min_face in TRACK_SETTINGS:
            tracks = track_shot(detection_scenario(seed), min_track, min_face)
            # one array per setting: rows (track index, frame, x1, y1, x2, y2)
            out[f"tracks_{seed}_{min_track}_{min_face}"] = np.concatenate(
                [np.column_stack([np.full(len(t["frame"]), i), t["frame"], t["bbox"]]) for i, t in enumerate(tracks)]
            ) if tracks else np.zeros((0, 6))
            print(f"scenario {seed}, min_track {min_track}, min_face {min_face}: {len(tracks)} tracks")
    out["crops"] = reference_crops(checkout, *crop_scenario())
    print(f"crops: {out['crops'].shape}")
    for seed, height, width in SCENE_CLIPS:
        out[f"cuts_{seed}"] = np.array(reference_scene_cuts(scenedetect_checkout, scene_clip(seed, height, width)), int)
        print(f"scene clip {seed} ({width} px wide): cuts {out[f'cuts_{seed}'].tolist()}")
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT}")


def first_stage(detector, image: np.ndarray) -> np.ndarray:
    """The face-class rows (score, x1, y1, x2, y2 relative) of the reference network's output,
    its input built as S3FD.detect_faces builds it."""
    import cv2

    scaled = cv2.resize(image, dsize=(0, 0), fx=0.25, fy=0.25, interpolation=cv2.INTER_LINEAR)
    x = scaled.transpose(2, 0, 1)[[2, 1, 0]].astype("float32")
    x -= np.array([104.0, 117.0, 123.0], np.float32)[:, None, None]
    x = torch.from_numpy(x[[2, 1, 0]].copy())[None]
    with torch.no_grad():
        rows = detector.net(x)[0, 1].numpy()
    return rows[rows[:, 0] > 0]


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
