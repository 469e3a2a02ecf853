"""DeSync (Synchformer): grid, windows, preprocessing, loading and aggregation, with a tiny
stand-in network of Synchformer's interface, and one run of the native network at its tiny size."""

import json

import numpy as np
import pytest
import torch

from harmony_bench.media import Clip
from harmony_bench.metrics.base import NotScorable
from harmony_bench.metrics.sync import desync
from harmony_bench.metrics.sync.desync import DeSyncMetric, audio_segments, video_segments


class TinySync(torch.nn.Module):
    """Synchformer's interface. Features carry the segment index, counted on across calls (the
    metric sends the segments in batches, in order); `compare_v_a` records the windows it is
    given and answers the next class of `answers`."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(2, 21)  # something to save and load
        self.seen, self.answers = [], [3, 12]
        self.counted = {"video": 0, "audio": 0}

    def _indices(self, stream: str, b: int, s: int, tokens: int):
        start = self.counted[stream]
        self.counted[stream] += s
        return torch.arange(start, start + s, dtype=torch.float32).view(1, s, 1, 1).expand(b, s, tokens, 4)

    def extract_vfeats(self, vis):
        b, s, t, c, h, w = vis.shape
        assert (t, c, h, w) == (16, 3, 224, 224)
        return self._indices("video", b, s, 8)

    def extract_afeats(self, aud):
        b, s, one, f, t = aud.shape
        assert (one, f, t) == (1, 128, 66)
        return self._indices("audio", b, s, 6)

    def compare_v_a(self, vis, aud):
        assert vis.shape[1] == aud.shape[1] == 14
        self.seen.append((vis[0, :, 0, 0].int().tolist(), aud[0, :, 0, 0].int().tolist()))
        logits = torch.zeros(vis.shape[0], 21)
        logits[:, self.answers[len(self.seen) - 1]] = 1.0
        return logits


def clip_of(seconds: float, fps: float = 25, size=(64, 96)) -> Clip:
    n = int(round(seconds * fps))
    # a flat picture stepping 3 grey levels a frame: not frozen (the base refuses frozen pictures)
    frames = np.broadcast_to((np.arange(n) * 3 % 256).astype(np.uint8)[:, None, None, None], (n, *size, 3)).copy()
    audio = np.random.default_rng(0).normal(0, 0.1, int(seconds * 16000)).astype(np.float32)
    return Clip(frames=frames, fps=fps, audio=audio, sample_rate=16000)


def loaded_metric() -> DeSyncMetric:
    metric = DeSyncMetric(architecture=TinySync)
    metric.model = TinySync().eval()
    return metric


def test_offset_grid_is_21_steps_of_0_2_s():
    grid = desync.OFFSET_GRID
    assert len(grid) == 21 and grid[0] == -2.0 and grid[-1] == 2.0 and grid[10] == 0.0
    np.testing.assert_allclose(np.diff(grid), 0.2)
    assert desync.WINDOW_SECONDS == pytest.approx(4.8)


@pytest.mark.parametrize("seconds, segments, kept", [(4.8, 14, list(range(14))), (5.0, 14, list(range(14))),
                                                     (10.0, 30, list(range(14)) + list(range(16, 30)))])
def test_first_and_last_windows(seconds, segments, kept, monkeypatch):
    encoded = []
    for name in ("video_segments", "audio_segments"):
        real = getattr(desync, name)
        monkeypatch.setattr(desync, name, lambda x, which, real=real: encoded.append(list(which)) or real(x, which))
    metric = loaded_metric()
    score = metric.score(clip_of(seconds), None)
    assert score.details["segments"] == segments
    assert encoded == [kept, kept]  # only the segments of the two windows, in order
    # TinySync numbers the encoded segments: the windows are the first and the last 14 of them
    (first_v, first_a), (last_v, last_a) = metric.model.seen
    assert first_v == first_a == list(range(14))
    assert last_v == last_a == list(range(len(kept) - 14, len(kept)))
    # answers: class 3 = -1.4 s, class 12 = +0.4 s -> DeSync = mean |offset|
    assert score.details["window_offsets_s"] == pytest.approx([-1.4, 0.4])
    assert score.values["DeSync"] == pytest.approx(0.9)


def test_clip_shorter_than_a_window_is_unscorable():
    with pytest.raises(NotScorable, match="shorter than one 4.8 s"):
        loaded_metric().score(clip_of(4.7), None)


def test_streams_are_cut_to_their_common_duration():
    clip = clip_of(10.0)
    clip.audio = clip.audio[: int(6.0 * 16000)]
    metric = loaded_metric()
    assert metric.score(clip, None).details["segments"] == (150 - 16) // 8 + 1


def test_video_segments_resize_crop_and_scale():
    frames = (np.arange(40) * 5).astype(np.uint8)[:, None, None, None] * np.ones((1, 90, 160, 3), np.uint8)
    segs = video_segments(frames, [0, 1, 2])
    assert segs.shape == (3, 16, 3, 224, 224)
    for i, j in ((0, 0), (1, 3), (2, 15)):
        expected = (5 * (8 * i + j) / 255 - 0.5) / 0.5
        assert torch.allclose(segs[i, j], torch.full((3, 224, 224), expected), atol=1e-5)


def test_audio_segments_log_mel_layout_and_normalisation():
    audio = np.zeros(16000 * 2, np.float32)
    audio[5120 * 2 : 5120 * 2 + 400] = 0.8  # a burst at the start of segment 2 (inside segment 1 too)
    segs = audio_segments(audio, [0, 1, 2])
    assert segs.shape == (3, 1, 128, 66)
    silence = (np.log(1e-6) - desync.MEL_MEAN) / (2 * desync.MEL_STD)
    padding = (0.0 - desync.MEL_MEAN) / (2 * desync.MEL_STD)  # 65 mel frames padded with 0 before scaling
    assert torch.allclose(segs[0, 0, :, :65], torch.tensor(silence, dtype=torch.float32))
    assert torch.allclose(segs[:, 0, :, 65], torch.tensor(padding, dtype=torch.float32))
    assert segs[2, 0, :, 0].max() > silence + 1 and segs[1, 0, :, 32].max() > silence + 1


def test_loads_a_state_dict_file_through_setup(tmp_path, monkeypatch):
    torch.save(TinySync().state_dict(), tmp_path / "synchformer_state_dict.pth")
    sha = __import__("harmony_bench.weights", fromlist=["sha256_of"]).sha256_of(tmp_path / "synchformer_state_dict.pth")
    (tmp_path / "manifest.json").write_text(json.dumps({"synchformer_state_dict.pth": sha}))
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "manifest.json"))
    metric = DeSyncMetric(architecture=TinySync)
    metric.setup()
    assert metric.weights_sha256 == f"synchformer_state_dict.pth={sha}"
    assert metric.score(clip_of(5.0), None).values["DeSync"] == pytest.approx(0.9)


def test_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    assert DeSyncMetric().availability() == "weights missing: synchformer_state_dict.pth"
    assert DeSyncMetric(architecture=TinySync).availability() == "weights missing: synchformer_state_dict.pth"


@pytest.fixture
def native(tmp_path, monkeypatch) -> tuple[DeSyncMetric, dict]:
    """The native Synchformer set up from tiny random-weight files, and their hashes."""
    from harmony_bench.metrics.sync.testing import write_random_weights

    written = write_random_weights(tmp_path, only=("synchformer_state_dict.pth",))
    (tmp_path / "manifest.json").write_text(json.dumps(written))
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "manifest.json"))
    metric = DeSyncMetric()
    metric.setup()
    return metric, written


def test_native_network_scores_through_setup(native):
    """No av-benchmark needed: the tiny random-weight file and its override load into the native
    Synchformer, both hashes are recorded, and the offsets come from the 21-class grid."""
    metric, written = native
    assert metric.weights_sha256 == ";".join(f"{k}={v}" for k, v in written.items())
    score = metric.score(clip_of(5.0, size=(32, 48)), None)
    offsets = score.details["window_offsets_s"]
    assert len(offsets) == 2 and all(min(abs(desync.OFFSET_GRID - o)) < 1e-9 for o in offsets)
    assert score.values["DeSync"] == pytest.approx(np.mean(np.abs(offsets)))


def test_video_segments_of_a_subset_equal_those_of_all_segments():
    frames = np.random.default_rng(0).integers(0, 256, (120, 40, 60, 3), dtype=np.uint8)
    every = video_segments(frames, list(range(14)))
    some = video_segments(frames, [0, 1, 5, 12, 13])
    assert torch.equal(some, every[[0, 1, 5, 12, 13]])
    audio = np.random.default_rng(1).normal(0, 0.1, 16000 * 5).astype(np.float32)
    assert torch.allclose(audio_segments(audio, [2, 9]), audio_segments(audio, list(range(14)))[[2, 9]], atol=1e-6)


def test_a_long_clip_scores_as_if_every_segment_were_encoded(native):
    """The native network on a 10 s clip (30 segments, 28 encoded): the offsets equal those from
    the windows of the features of all 30 segments, as av-benchmark computes them."""
    metric, _ = native
    clip = clip_of(10.0, size=(32, 48))
    video, audio = desync.common_span(clip.video_at(desync.FPS), clip.audio_at(desync.SAMPLE_RATE))
    with torch.inference_mode():
        vfeat = metric.segment_features(metric.model.extract_vfeats, video_segments(video, list(range(30))))
        afeat = metric.segment_features(metric.model.extract_afeats, audio_segments(audio, list(range(30))))
        logits = [metric.model.compare_v_a(vfeat[:, w], afeat[:, w]) for w in (slice(0, 14), slice(16, 30))]
        kept = desync.kept_segments(30)
        assert torch.allclose(metric.segment_features(metric.model.extract_vfeats, video_segments(video, kept)),
                              vfeat[:, kept], atol=1e-5)
    expected = [desync.OFFSET_GRID[int(x.argmax(dim=-1)[0])] for x in logits]
    assert metric.window_offsets(video, audio, 30).tolist() == pytest.approx(expected)
    assert metric.score(clip, None).details["window_offsets_s"] == pytest.approx(expected)
