import numpy as np
import pytest

from harmony_model.synthav.generator import FLAVOURS, SPLITS, SynthAVConfig, generate, split_seeds


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_clip_shapes_and_determinism(flavour):
    cfg = SynthAVConfig()
    a, b = generate(7, flavour), generate(7, flavour)
    assert a.frames.shape == (cfg.num_frames, cfg.size, cfg.size, 3) and a.frames.dtype == np.uint8
    assert a.audio.shape == (cfg.num_samples,) and np.abs(a.audio).max() <= 1.0
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    assert a.metadata() == b.metadata()
    assert a.reference_image.shape == (cfg.size, cfg.size, 3) and len(a.reference_audio) > 1000
    assert a.sync_error() == 0.0 and a.regions and set(a.regions) == set(a.kinds)
    assert not np.array_equal(a.frames, generate(8, flavour).frames)


def test_flavour_contents():
    speech, ambient, complex_ = generate(1, "speech"), generate(3, "ambient"), generate(5, "complex")
    assert speech.transcript and speech.language in ("en", "zh") and speech.voice
    assert ambient.transcript is None and any(e.kind in ("bounce", "flash", "slam") for e in ambient.events)
    assert complex_.transcript and "speech" in complex_.kinds.values()
    assert len(set(complex_.kinds.values())) == 2


def test_hard_cases_exist():
    clips = [generate(s) for s in range(30)]
    events = [e for c in clips for e in c.events]
    assert any(e.t_audio is None for e in events)  # motion without sound (slider, blink)
    assert any(e.t_video is None for e in events)  # sound without motion (off-screen chime)
    assert any(len([e for e in c.events if e.kind in ("bounce", "flash", "slam")]) >= 3 for c in clips)
    assert any(c.language == "zh" for c in clips) and any(c.language == "en" for c in clips)


def test_splits_are_disjoint():
    ranges = list(SPLITS.values())
    for i, r in enumerate(ranges):
        for q in ranges[i + 1:]:
            assert max(r.start, q.start) >= min(r.stop, q.stop)
    assert split_seeds("test", 3) == [SPLITS["test"].start + i for i in range(3)]


def test_other_resolutions():
    clip = generate(2, config=SynthAVConfig(size=64, fps=24, duration=1.0, noise=False))
    assert clip.frames.shape == (24, 64, 64, 3)


def test_curriculum_levels_go_from_one_isolated_event_to_the_hard_mix():
    def level_clips(level):
        return [generate(s, config=SynthAVConfig(size=16, duration=2.0, fps=12, level=level)) for s in range(12)]

    for clip in level_clips("single"):
        assert clip.flavour == "ambient" and len(clip.kinds) == 1
        assert len(clip.events) == 1 and clip.events[0].synced  # one event, seen and heard: no distractor
        assert clip.frames[1:].std(axis=0).max() > 0 and "once" in clip.video_caption
    several = level_clips("several")
    assert all(c.flavour == "ambient" and all(e.synced for e in c.events) for c in several)
    assert max(len(c.events) for c in several) >= 3
    assert {c.flavour for c in level_clips("hard")} == set(FLAVOURS)


def test_easy_levels_are_noiseless():
    for seed in range(4):
        for level, noisy in (("several", False), ("hard", True)):
            clip = generate(seed, config=SynthAVConfig(size=16, duration=1.0, level=level))
            first = min(e.t_audio for e in clip.events if e.t_audio is not None)
            assert clip.audio[: int(first * clip.sample_rate)].any() == noisy  # silent until the first event
    with pytest.raises(ValueError, match="unknown SynthAV level 'easy'"):
        SynthAVConfig(level="easy")
