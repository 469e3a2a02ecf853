"""Regenerate tests/metrics/sync/data/s3fd_reference.npz from syncnet_python's S3FD.

    python tests/metrics/sync/make_s3fd_fixture.py /path/to/joonson/syncnet_python

The reference code is read from a local checkout (commit 6efbb1c; not part of this
repository). Its `box_utils.nms_` casts with `np.int`, removed in numpy 1.24: the script puts
the builtin `int` back under that name before importing it. The reference's `S3FD` class loads
`seeded_s3fd_state(0)` (harmony_bench.metrics.sync.testing) from a temporary `sfd_face.pth`
written in the official layout, strict keys; the fixture keeps, for seeded random pictures, what
`S3FD.detect_faces` returns with run_pipeline.py's arguments (scale 0.25, conf_th 0.9) and with
conf_th 0.5, and the first NMS stage's rows (`S3FDNet.forward`: score, relative box) for the
face class. test_s3fd.py checks the native port against them.
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


def picture(seed: int, height: int, width: int) -> np.ndarray:
    """A random RGB picture, smoothed a little so the network sees structure, not pure noise."""
    import cv2

    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (5, 5), 1.5)


def main(checkout: Path) -> None:
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
    main(Path(sys.argv[1]))
