"""Sync-C / Sync-D (SyncNet v2): layout, loader, windowing, tracking, crop and aggregation."""

import numpy as np
import pytest
import torch

from harmony_bench.metrics.base import NotScorable
from harmony_bench.metrics.sync import faces, syncnet
from harmony_bench.metrics.sync.syncnet import SyncNetBlazeFace, SyncNetMetric, summarise
from harmony_bench.metrics.sync.syncnet_model import SyncNetV2, load_syncnet
from harmony_bench.metrics.sync.testing import write_random_weights


def test_layout_matches_the_official_state_dict_names_and_shapes():
    state = SyncNetV2().state_dict()
    assert len([k for k in state if not k.endswith("num_batches_tracked")]) == 12 * 2 + 14 * 4 + 4 * 2  # convs, BNs, linears
    assert state["netcnnaud.0.weight"].shape == (64, 1, 3, 3)
    assert state["netcnnaud.18.weight"].shape == (512, 256, 5, 4)
    assert state["netcnnlip.0.weight"].shape == (96, 3, 5, 7, 7)
    assert state["netcnnlip.18.weight"].shape == (512, 256, 1, 6, 6)
    assert state["netfcaud.3.weight"].shape == (1024, 512)
    assert state["netfclip.1.running_var"].shape == (512,)


def test_stream_shapes_per_window():
    model = SyncNetV2().eval()
    with torch.inference_mode():
        assert model.forward_lip(torch.rand(2, 3, 5, 224, 224) * 255).shape == (2, 1024)
        assert model.forward_aud(torch.randn(2, 1, 13, 20)).shape == (2, 1024)


def test_loader_round_trip_and_old_files_without_batch_counters(tmp_path):
    torch.manual_seed(0)
    src = SyncNetV2().eval()
    state = {k: v for k, v in src.state_dict().items() if not k.endswith("num_batches_tracked")}
    # the 2016 release: legacy (pre-zip) serialisation, loaded with weights_only=True
    torch.save(state, tmp_path / "old.model", _use_new_zipfile_serialization=False)
    assert not __import__("zipfile").is_zipfile(tmp_path / "old.model")
    loaded = load_syncnet(tmp_path / "old.model")
    x = torch.randn(2, 1, 13, 20)
    with torch.inference_mode():
        assert torch.equal(loaded.forward_aud(x), src.forward_aud(x))
    state.pop("netfclip.3.bias")
    torch.save(state, tmp_path / "broken.model")
    with pytest.raises(ValueError, match="not a SyncNet v2 state dict"):
        load_syncnet(tmp_path / "broken.model")


class RecordingNet(torch.nn.Module):
    """Stands in for SyncNet: the lip feature is the 5 frame indices painted in the crops, the
    audio feature every 4th of the window's 20 MFCC "times" (painted by a patched `mfcc`) / 4,
    so a window's two features are equal exactly when audio and video times agree. With
    `circle`, each time becomes a point on the unit circle, so that, as with real embeddings,
    a wrong time is farther away than the zero padding beyond the track (one turn = 33 frames,
    more than the 31 lags searched)."""

    def __init__(self, circle: bool = False):
        super().__init__()
        self.circle = circle

    def embed(self, times):
        return torch.cat([torch.cos(0.19 * times), torch.sin(0.19 * times)], 1) if self.circle else times

    def forward_lip(self, x):
        assert x.shape[1:] == (3, 5, 224, 224)
        return self.embed(x[:, 0, :, 0, 0])

    def forward_aud(self, x):
        assert x.shape[1:] == (1, 13, 20)
        return self.embed(x[:, 0, 0, ::4] / 4)


def painted_mfcc(delay_frames: int):
    """A fake MFCC whose every value is the video time (in MFCC frames) the sound belongs to."""
    return lambda seg, sr: np.tile(np.arange(len(seg) // 160, dtype=float)[:, None] - 4 * delay_frames, (1, 13))


def painted_crops(n: int) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 224, 224, 3)))


def recording_metric(circle: bool) -> SyncNetMetric:
    metric = SyncNetMetric()
    metric.model = RecordingNet(circle)
    return metric


def test_windows_pair_five_frames_with_twenty_mfcc_frames(monkeypatch):
    monkeypatch.setattr(syncnet, "mfcc", painted_mfcc(0))
    metric, audio = recording_metric(circle=False), np.zeros(36 * 640)  # audio shorter than the video
    video_feat, audio_feat = metric.embed(painted_crops(40), syncnet.mfcc(audio, 16000), n_windows=36 - 5)
    assert video_feat.shape == (31, 5) and audio_feat.shape == (31, 5)
    for i in (0, 7, 30):
        assert video_feat[i].tolist() == list(range(i, i + 5))
        assert audio_feat[i].tolist() == list(range(i, i + 5))
    assert metric.track_search(painted_crops(5), audio, 0) is None  # no complete window


@pytest.mark.parametrize("delay", [0, 3, -4, 12])
def test_sign_through_the_whole_search(monkeypatch, delay):
    monkeypatch.setattr(syncnet, "mfcc", painted_mfcc(delay))
    search = recording_metric(circle=True).track_search(painted_crops(60), np.zeros(60 * 640), first_frame=0)
    assert search.lags.tolist() == list(range(-15, 16))
    assert search.offset == delay  # audio late by `delay` frames -> positive offset
    assert search.confidence > 0.5


def test_tracks_follow_iou_bridge_gaps_and_drop_short_or_small_faces():
    box = np.array([[40.0, 40.0, 120.0, 120.0]])
    other = np.array([[200.0, 40.0, 280.0, 120.0]])
    tiny = np.array([[10.0, 10.0, 14.0, 14.0]])
    none = np.zeros((0, 4))
    dets = [np.concatenate([box, other, tiny]) if t % 10 else none for t in range(60)]  # every 10th missed
    dets[30:40] = [np.concatenate([other, tiny])] * 10  # the first face leaves for 10 frames
    blazeface = faces.TrackRule(50, 0.1 * 160, by_span=True)  # the BlazeFace variant's rule
    tracks = faces.track_faces(dets, blazeface)
    assert len(tracks) == 2  # both faces, the tiny one dropped
    spans = sorted((int(t.frames[0]), int(t.frames[-1])) for t in tracks)
    assert spans == [(1, 59), (1, 59)]
    assert all(np.allclose(np.diff(t.frames), 1) for t in tracks)  # gaps interpolated
    assert faces.track_faces(dets, faces.TrackRule(60, 16, by_span=True)) == []
    split = [box] * 20 + [none] * 30 + [box] * 20  # a gap longer than 25 frames ends a track
    assert sorted(len(t) for t in faces.track_faces(split, faces.TrackRule(10, 16, by_span=True))) == [20, 20]


def test_reference_track_rule_counts_detections_and_wants_faces_over_100_px():
    """track_shot keeps a track of MORE than min_track detections whose mean box width or height
    exceeds min_face_size (pixels): both comparisons strict."""
    def boxes(side: float) -> np.ndarray:
        return np.array([[10.0, 10.0, 10.0 + side, 10.0 + side, 0.99]])

    rule = faces.TrackRule(syncnet.MIN_TRACK, syncnet.MIN_FACE_PX)
    every_other = [boxes(101) if t % 2 == 0 else np.zeros((0, 5)) for t in range(2 * 101)]  # 101 detections
    (track,) = faces.track_faces(every_other, rule)
    assert len(track) == 201 and track.frames[0] == 0  # the span, gaps interpolated
    assert faces.track_faces(every_other[:200], rule) == []  # 100 detections: not more than 100
    assert faces.track_faces([boxes(100)] * 150, rule) == []  # a 100 px face is not over 100 px
    assert faces.track_faces([boxes(100)] * 150, faces.TrackRule(100, 99.5))  # ... a 99.5 px floor keeps it


def test_shots_are_tracked_apart_and_short_shots_skipped():
    face = [np.array([[40.0, 40.0, 160.0, 160.0, 0.99]])] * 230
    rule = faces.TrackRule(100, 100)
    (whole,) = faces.track_shots(face, [], rule)
    assert (whole.frames[0], whole.frames[-1]) == (0, 229)
    first, second = faces.track_shots(face, [110], rule)  # a cut: the same box makes two tracks
    assert (first.frames[0], first.frames[-1], second.frames[0], second.frames[-1]) == (0, 109, 110, 229)
    (only,) = faces.track_shots(face, [99], rule)  # a 99-frame shot is shorter than min_track: skipped
    assert (only.frames[0], only.frames[-1]) == (99, 229)


def test_scene_cuts_follow_content_detector():
    """ContentDetector's rule: a cut where the mean |HSV difference| reaches 30, not within 15
    frames of the last cut, on frames subsampled by 3 from 600 px wide (2 from 400)."""
    def grey(level: int, n: int, width: int = 16) -> list[np.ndarray]:
        return [np.full((8, width, 3), level, np.uint8)] * n  # HSV (0, 0, level): only V changes

    assert faces.scene_cuts(np.stack(grey(100, 5) + grey(190, 5))) == [5]  # mean delta 90 / 3 = 30
    assert faces.scene_cuts(np.stack(grey(100, 5) + grey(189, 5))) == []  # 29.7
    assert faces.scene_cuts(np.stack(grey(100, 5) + grey(190, 14) + grey(100, 5))) == [5]  # 14 frames later
    assert faces.scene_cuts(np.stack(grey(100, 5) + grey(190, 15) + grey(100, 5))) == [5, 20]
    # pixels off a 3- (2-) pixel grid turn white: a cut unless the frames are subsampled by 3 (2)
    for width, grid, cut in ((640, 3, False), (599, 3, True), (400, 2, False), (399, 2, True)):
        changed = np.zeros((12, width, 3), np.uint8)
        changed[:, np.arange(width) % grid > 0] = 255
        changed[np.arange(12) % grid > 0] = 255
        frames = np.stack([np.zeros_like(changed)] * 3 + [changed] * 3)
        assert faces.scene_cuts(frames) == ([3] if cut else []), width


def test_multi_face_known_answers_mean_by_default_active_as_option():
    from harmony_bench.metrics.sync.offsets import OffsetSearch

    lags = np.arange(-2, 3)
    a = OffsetSearch(lags, np.array([9.0, 8.0, 5.0, 8.0, 9.0]))  # C = 3, D = 5, offset 0
    b = OffsetSearch(lags, np.array([7.0, 7.5, 7.5, 6.0, 8.0]))  # C = 1.5, D = 6, offset +1
    tracks = [faces.FaceTrack(np.arange(60), np.zeros((60, 4)))] * 2
    assert SyncNetMetric().multi_face == "mean"  # ours: syncnet_python has no clip-level rule
    mean = summarise(list(zip(tracks, [b, a])), "mean")
    assert mean.values == {"Sync-C": 2.25, "Sync-D": 5.5, "Sync-offset": 0.5}
    assert len(mean.details["tracks"]) == 2 and mean.details["offset_frames"] is None
    active = summarise(list(zip(tracks, [b, a])), "active")
    assert active.values == {"Sync-C": 3.0, "Sync-D": 5.0, "Sync-offset": 0.0}
    assert active.details["offset_frames"] == 0
    with pytest.raises(ValueError, match="multi_face"):
        SyncNetMetric(multi_face="best")
    from harmony_bench.metrics.registry import get_metric

    variant = get_metric("syncnet@v2+active-speaker")()
    assert variant.multi_face == "active" and not variant.official and get_metric("syncnet@v2").official


def test_missing_weights_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    assert SyncNetMetric().availability() == "weights missing: syncnet_v2.model"
    (tmp_path / "syncnet_v2.model").write_bytes(b"")
    assert SyncNetMetric().availability() == "weights missing: sfd_face.pth"  # the face detector is the reference's


@pytest.fixture(scope="module")
def random_syncnet(tmp_path_factory):
    pytest.importorskip("mediapipe", reason="needs the [offline] extra (mediapipe; it pins numpy<2)")
    folder = tmp_path_factory.mktemp("weights")
    manifest = write_random_weights(folder, only=("syncnet_v2.model",))
    mp = pytest.MonkeyPatch()
    mp.setenv("HARMONY_BENCH_WEIGHTS", str(folder))
    (folder / "manifest.json").write_text(__import__("json").dumps(manifest))
    mp.setenv("HARMONY_BENCH_MANIFEST", str(folder / "manifest.json"))
    metric = SyncNetBlazeFace(min_track=25)  # faces from mediapipe: random S3FD weights find none
    metric.setup()
    yield metric, manifest
    mp.undo()


def syncnet_python_evaluate(net, crops_bgr: np.ndarray, audio: np.ndarray, vshift: int = 15, batch: int = 20):
    """The reference's scoring of one face track, re-implemented from joonson/syncnet_python
    (SyncNetInstance.evaluate and calc_pdist, master): float32 torch, windows of 5 frames against
    MFCC columns 4i..4i+19, lastframe = min(frames, floor(samples / 640)) - 5, audio features
    zero-padded by vshift, F.pairwise_distance, mean over frames, offset = vshift - argmin,
    conf = median - min. MFCC is python_speech_features' recipe (harmony_bench.metrics.sync.mfcc, held to that
    library by test_mfcc), the one step not re-derived here. Returns (offset, conf, min dist) in the
    reference's sign (offset > 0: audio early)."""
    import math

    import torch.nn.functional as F

    cct = torch.from_numpy(syncnet.mfcc(audio, 16000).T[None, None].astype(float)).float()
    imtv = torch.from_numpy(np.transpose(crops_bgr[None], (0, 4, 1, 2, 3)).astype(float)).float()  # (1, 3, T, H, W)
    lastframe = min(len(crops_bgr), math.floor(len(audio) / 640)) - 5
    im_feat, cc_feat = [], []
    with torch.no_grad():
        for i in range(0, lastframe, batch):
            frames = range(i, min(lastframe, i + batch))
            im_feat.append(net.forward_lip(torch.cat([imtv[:, :, v : v + 5] for v in frames], 0)))
            cc_feat.append(net.forward_aud(torch.cat([cct[:, :, :, v * 4 : v * 4 + 20] for v in frames], 0)))
    im_feat, cc_feat = torch.cat(im_feat), torch.cat(cc_feat)
    win = 2 * vshift + 1
    padded = F.pad(cc_feat, (0, 0, vshift, vshift))
    dists = [F.pairwise_distance(im_feat[[i], :].repeat(win, 1), padded[i : i + win, :]) for i in range(len(im_feat))]
    mdist = torch.mean(torch.stack(dists, 1), 1)
    minval, minidx = torch.min(mdist, 0)
    return int(vshift - minidx), float(torch.median(mdist) - minval), float(minval)


@pytest.mark.slow
@pytest.mark.parametrize("layout, seconds, n_tracks", [("single", 1.2, 1), ("silent_partner", 1.6, 2)])
def test_end_to_end_matches_the_reference_evaluation(random_syncnet, make_speech_clip, layout, seconds, n_tracks):
    """Same seeded random weights, same clip, same face crops: Sync-C, Sync-D and the offset of
    each track from the reference's evaluate, averaged over tracks as the reference suites do."""
    metric, manifest = random_syncnet
    assert metric.weights_sha256 == f"syncnet_v2.model={manifest['syncnet_v2.model']}"
    clip = make_speech_clip(0.0, seconds=seconds, layout=layout)
    score = metric.score(clip, None)
    video, audio = clip.video_at(25), syncnet.to_int16_scale(clip.audio_at(16000))
    tracks = metric.face_tracks(video)
    assert len(tracks) == len(score.details["tracks"]) == n_tracks
    reference = []
    for track, ours in zip(tracks, score.details["tracks"]):
        first = int(track.frames[0])
        crops = faces.crop_track(video, track)[..., ::-1]  # the reference reads its crops with cv2: BGR
        offset, conf, dist = syncnet_python_evaluate(metric.model, crops, audio[first * 640 : (first + len(crops)) * 640])
        assert ours["sync_c"] == pytest.approx(conf, rel=1e-4, abs=1e-5)
        assert ours["sync_d"] == pytest.approx(dist, rel=1e-5)
        assert ours["offset_frames"] == -offset  # syncnet_python prints the opposite sign
        reference.append((conf, dist, abs(offset)))
    assert score.values["Sync-C"] == pytest.approx(np.mean([r[0] for r in reference]), rel=1e-4, abs=1e-5)
    assert score.values["Sync-D"] == pytest.approx(np.mean([r[1] for r in reference]), rel=1e-5)
    assert score.values["Sync-offset"] == pytest.approx(np.mean([r[2] for r in reference]))


@pytest.mark.slow
def test_clip_without_face_is_unscorable(random_syncnet, make_flash_clip):
    metric, _ = random_syncnet
    with pytest.raises(NotScorable, match="no face track"):
        metric.score(make_flash_clip(0.0, seconds=1.2), None)


class ListedFaces:
    """Stands in for S3FD: the same rows on every frame."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows

    def detect_frames(self, frames: np.ndarray) -> list[np.ndarray]:
        return [self.rows] * len(frames)


def test_face_stage_cuts_shots_before_tracking():
    """syncnet@v2's face stage: a hard cut splits one face into two tracks, each kept as long as
    it has more than min_track detections; the BlazeFace variant's rule is not consulted."""
    frames = np.zeros((60, 120, 160, 3), np.uint8)
    frames[:, :, :, 0] = 200
    frames[30:, :, :, 0], frames[30:, :, :, 2] = 0, 200  # red, then blue from frame 30
    metric = SyncNetMetric(min_track=20)
    metric.detector = ListedFaces(np.array([[20.0, 10.0, 140.0, 115.0, 0.99]]))  # a 120 px face
    tracks = metric.face_tracks(frames)
    assert [(int(t.frames[0]), int(t.frames[-1])) for t in tracks] == [(0, 29), (30, 59)]
    metric.detector = ListedFaces(np.array([[20.0, 10.0, 110.0, 100.0, 0.99]]))  # 90 px: under 100 px
    assert metric.face_tracks(frames) == []


def test_card_names_every_step_of_the_reference_pipeline():
    """run_pipeline.py (re-encode, audio, face detection, scene detection, tracking, crop) and
    run_syncnet.py (scoring, per-track results), each with whether it is followed."""
    from harmony_bench.metrics.registry import get_metric

    for key in ("syncnet@v2", "syncnet@v2-blazeface", "syncnet@v2+active-speaker"):
        steps = get_metric(key).card.steps
        names = " ".join(step for step, _ in steps)
        for stage in ("re-encode", "16 kHz", "S3FD", "scene_detect", "track_shot", "crop_video", "evaluate",
                      "run_syncnet: one result per face track"):
            assert stage in names, (key, stage)
        assert all(how.startswith(("followed", "not followed", "ours")) for _, how in steps), key
    s3fd_steps = dict(get_metric("syncnet@v2").card.steps)
    blaze_steps = dict(get_metric("syncnet@v2-blazeface").card.steps)
    detect = next(step for step in s3fd_steps if "S3FD" in step)
    assert s3fd_steps[detect].startswith("followed") and blaze_steps[detect].startswith("not followed")
    assert get_metric("syncnet@v2").version == "3" and get_metric("syncnet@v2").weights[1].name == "sfd_face.pth"
    assert get_metric("syncnet@v2-blazeface").weights == (syncnet.SYNCNET_V2,)


@pytest.mark.slow
def test_s3fd_face_stage_end_to_end_records_both_weight_files(tmp_path, monkeypatch, make_speech_clip):
    """syncnet@v2 loads S3FD from sfd_face.pth and stamps both files' hashes on its numbers; on
    random weights its detections are noise, so only the plumbing is checked here (the detector
    itself: test_s3fd.py)."""
    import json

    manifest = write_random_weights(tmp_path, only=("syncnet_v2.model", "sfd_face.pth"))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "manifest.json"))
    metric = SyncNetMetric(min_track=20)
    metric.setup()
    assert metric.weights_sha256 == (f"syncnet_v2.model={manifest['syncnet_v2.model']};"
                                     f"sfd_face.pth={manifest['sfd_face.pth']}")
    score = metric.score(make_speech_clip(0.0, seconds=1.6), None)
    assert score.details["tracks"] and all(t["frames"] > 20 for t in score.details["tracks"])
    assert np.isfinite(list(score.values.values())).all()
