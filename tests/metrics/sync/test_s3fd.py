"""S3FD and tracking: layout of the official file, hand-computed post-processing, and the
reference's output.

`data/s3fd_reference.npz` was written by make_s3fd_fixture.py, which runs syncnet_python's own
`detectors/s3fd` code and run_pipeline.py's `track_shot` (commit 6efbb1c, from a local checkout,
not part of this repository) on seeded random weights saved as `sfd_face.pth` and on seeded
detection lists, its `crop_video` on a seeded track, and PySceneDetect 0.5.1's ContentDetector on
seeded clips.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from harmony_bench.metrics.sync import s3fd
from harmony_bench.metrics.sync.s3fd import S3FD, S3FDNet, decode, load_s3fd, nms, prior_boxes, select
from harmony_bench.metrics.sync.testing import seeded_s3fd_state, write_random_weights

from harmony_bench.metrics.sync import faces

from .make_s3fd_fixture import (CROP_SUBSAMPLE, PICTURES, SCENARIOS, SCENE_CLIPS, THRESHOLDS, TRACK_SETTINGS,
                                crop_scenario, detection_scenario, picture, scene_clip)

FIXTURE = Path(__file__).parent / "data" / "s3fd_reference.npz"


def test_layout_is_the_official_files():
    state = S3FDNet().state_dict()
    assert len(state) == 65  # 15 VGG convs + fc6/fc7, 4 extras, 6 + 6 heads (weight, bias) and 3 norms
    assert state["vgg.0.weight"].shape == (64, 3, 3, 3)
    assert state["vgg.31.weight"].shape == (1024, 512, 3, 3) and state["vgg.33.weight"].shape == (1024, 1024, 1, 1)
    assert state["conf.0.weight"].shape == (4, 256, 3, 3) and state["conf.5.weight"].shape == (2, 256, 3, 3)
    assert state["L2Norm4_3.weight"].shape == (512,) and state["L2Norm3_3.weight"][0] == 10
    assert state["extras.3.weight"].shape == (256, 128, 3, 3)


def test_loader_is_strict_and_the_random_file_loads(tmp_path):
    written = write_random_weights(tmp_path, only=("sfd_face.pth",))
    assert list(written) == ["sfd_face.pth"]
    detector = load_s3fd(tmp_path / "sfd_face.pth")
    assert torch.equal(detector.net.state_dict()["loc.2.bias"], seeded_s3fd_state(0)["loc.2.bias"])
    state = seeded_s3fd_state(0)
    state.pop("L2Norm5_3.weight")
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(ValueError, match="not an S3FD state dict"):
        load_s3fd(tmp_path / "broken.pth")


def test_priors_known_answers():
    priors = prior_boxes((16, 32), [(4, 8), (2, 4)]).numpy()
    assert priors.shape == (4 * 8 + 2 * 4, 4)
    # first map, stride 4, 16 px priors: centres at (j + 0.5) * 4 px, row-major
    assert priors[0] == pytest.approx([2 / 32, 2 / 16, 16 / 32, 16 / 16])
    assert priors[1] == pytest.approx([6 / 32, 2 / 16, 0.5, 1.0])
    assert priors[8] == pytest.approx([2 / 32, 6 / 16, 0.5, 1.0])  # second row
    assert priors[32] == pytest.approx([4 / 32, 4 / 16, 32 / 32, 32 / 16])  # second map: stride 8, 32 px


def test_decode_known_answers():
    prior = torch.tensor([[0.5, 0.5, 0.2, 0.4]])
    assert decode(torch.zeros(1, 4), prior)[0].tolist() == pytest.approx([0.4, 0.3, 0.6, 0.7])
    # centre moved by 1 * 0.1 * w, width doubled (exp(0.2 * ln 2 / 0.2))
    loc = torch.tensor([[1.0, 0.0, np.log(2) / 0.2, 0.0]])
    assert decode(loc, prior)[0].tolist() == pytest.approx([0.32, 0.3, 0.72, 0.7])


def test_nms_known_answers():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [5, 0, 15, 10]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # IoU(D, A) = 50 / 150, IoU(D, B) = 60 / 140, IoU(A, B) = 90 / 110, C overlaps none
    assert nms(boxes, scores, 0.3).tolist() == [3, 2]
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    assert nms(boxes, scores, 0.5, top_k=2).tolist() == [3, 0]  # only the two best considered
    twice = np.array([[0, 0, 10, 10], [0, 0, 10, 20]], float)  # IoU exactly 0.5: kept (<=)
    assert nms(twice, np.array([0.9, 0.8]), 0.5).tolist() == [0, 1]


def test_select_thresholds_then_suppresses_again_at_iou_0_1():
    rel = torch.tensor([[0.0, 0.0, 0.1, 0.1], [0.06, 0.0, 0.16, 0.1], [0.5, 0.5, 0.6, 0.6], [0.8, 0.8, 0.9, 0.9],
                        [0.3, 0.3, 0.4, 0.4]])
    scores = np.array([0.99, 0.95, 0.9, 0.97, 0.04])
    # A and B overlap by IoU 0.25: both survive NMS 0.3, B falls to the final 0.1; C is not over 0.9
    found = select(rel, scores, (100, 200), 0.9)
    assert found[:, 4].tolist() == pytest.approx([0.99, 0.97])
    assert found[0, :4].tolist() == pytest.approx([0, 0, 20, 10])  # scaled by (w, h, w, h)
    assert len(select(rel, scores, (100, 200), 0.5)) == 3  # C passes a lower threshold
    # the first stage keeps priors scoring over 0.05, best first, B despite its overlap with A
    assert s3fd.candidates(rel.numpy(), np.array([0.99, 0.95, 0.06, 0.97, 0.04])).tolist() == [0, 3, 1, 2]


@pytest.fixture(scope="module")
def seeded_detector():
    net = S3FDNet()
    net.load_state_dict(seeded_s3fd_state(0))
    return S3FD(net)


def test_fixture_was_made_by_the_reference_at_the_pinned_commit():
    ref = np.load(FIXTURE)
    assert str(ref["commit"]) == "6efbb1c" and ref["pictures"].tolist() == [list(p) for p in PICTURES]


@pytest.mark.parametrize("k", range(len(PICTURES)))
def test_first_stage_matches_the_reference_network(seeded_detector, k):
    """Scores and relative boxes of the priors kept by the first NMS: the network, priors,
    decoding and candidate NMS together, against S3FDNet.forward of syncnet_python."""
    expected = np.load(FIXTURE)[f"stage1_{k}"]
    boxes, scores = seeded_detector.priors_scored(picture(*PICTURES[k]))
    kept = s3fd.candidates(boxes.numpy(), scores)
    assert len(kept) == len(expected) > 10
    np.testing.assert_allclose(scores[kept], expected[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(boxes[kept].numpy(), expected[:, 1:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("k", range(len(PICTURES)))
def test_faces_match_the_reference_detector(seeded_detector, k, threshold):
    """S3FD.detect_faces(image, conf_th, scales=[0.25]) of syncnet_python on the same picture."""
    expected = np.load(FIXTURE)[f"faces_{k}_{threshold}"]
    seeded_detector.conf_threshold = threshold
    found = seeded_detector.detect(picture(*PICTURES[k]))
    assert found.shape == expected.shape and len(found) >= 3
    np.testing.assert_allclose(found[:, 4], expected[:, 4], rtol=1e-5)
    np.testing.assert_allclose(found[:, :4], expected[:, :4], rtol=1e-4, atol=1e-3)  # pixels


@pytest.mark.parametrize("min_track, min_face", TRACK_SETTINGS)
@pytest.mark.parametrize("seed", SCENARIOS)
def test_tracks_match_the_reference_track_shot(seed, min_track, min_face):
    """Same detections (three faces, misses, a 30-frame outage, a face near 100 px, shuffled
    order within frames): the same tracks, frames and interpolated boxes as track_shot's."""
    expected = np.load(FIXTURE)[f"tracks_{seed}_{min_track}_{min_face}"]
    tracks = faces.track_faces(detection_scenario(seed), faces.TrackRule(min_track, min_face))
    assert len(tracks) == len(set(expected[:, 0].tolist())) >= 1
    for i, track in enumerate(tracks):
        rows = expected[expected[:, 0] == i]
        assert track.frames.tolist() == rows[:, 1].astype(int).tolist()
        np.testing.assert_allclose(track.boxes, rows[:, 2:], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("seed, height, width", SCENE_CLIPS)
def test_scene_cuts_match_pyscenedetect_0_5_1(seed, height, width):
    """Changes on both sides of the threshold, cuts within 15 frames of the last, and (640 px
    wide) frames subsampled by 3: the cuts PySceneDetect's ContentDetector found."""
    expected = np.load(FIXTURE)[f"cuts_{seed}"].tolist()
    assert faces.scene_cuts(scene_clip(seed, height, width)) == expected and len(expected) >= 2


def test_crops_match_the_reference_crop_video():
    """A drifting, growing, jittering box partly outside the frame: crop_video's median-filtered
    geometry, grey pad and resize give the same pixels (every 8th kept in the fixture)."""
    expected = np.load(FIXTURE)["crops"]
    frames, boxes = crop_scenario()
    crops = faces.crop_track(frames, faces.FaceTrack(np.arange(len(frames)), boxes))
    ours = crops[..., ::-1][:, ::CROP_SUBSAMPLE, ::CROP_SUBSAMPLE]  # the reference's crops are BGR
    assert ours.shape == expected.shape and (expected == faces.PAD_VALUE).any()
    np.testing.assert_array_equal(ours, expected)


def test_a_crop_window_equals_slicing_the_padded_frame_for_any_bounds():
    """crop_video pads the whole frame before slicing; the crop reads only its window (same pixels)."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    for _ in range(300):
        pad = int(rng.integers(0, 50))
        rows, cols = (tuple(sorted(rng.integers(-20, 2 * pad + 80, 2))) for _ in range(2))
        if rng.random() < 0.2:
            rows = rows[::-1]  # reversed: numpy gives an empty slice
        padded = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), constant_values=faces.PAD_VALUE)
        np.testing.assert_array_equal(faces._window_of_padded(frame, pad, rows, cols),
                                      padded[rows[0] : rows[1], cols[0] : cols[1]])
