"""ImageBind preprocessing known answers (clip sampling, fbank, normalisation, video frames) and
the IB-A / IB metric on a tiny random model in the release format (a bare state dict)."""

import json
import math

import numpy as np
import pytest

from harmony_bench.metrics.audio.imagebind import (FBANK_MEAN, FBANK_STD, ImageBindScores, audio_clip_spans, audio_input,
                                     caption_for_ib_a, crop_offsets, fbank, load_imagebind,
                                     video_input)
from harmony_bench.metrics.base import NotScorable

SR = 16_000


@pytest.mark.parametrize("seconds, starts", [
    (5.0, [0, SR, 2 * SR]),  # max start 3 s, step 1 s; the last clip ends at 4 s
    (10.0, [0, 42_666, 85_333]),  # step 8/3 s, floored to samples
    (2.0, [0, 0, 0]),
    (1.0, [0, 0, 0]),  # short audio: three identical clips, each shorter than 2 s
])
def test_clip_sampling(seconds, starts):
    spans = audio_clip_spans(int(seconds * SR))
    assert [a for a, _ in spans] == starts
    assert [b - a for a, b in spans] == pytest.approx([2 * SR] * 3, abs=1)


def test_fbank_shape_padding_and_cropping():
    rng = np.random.default_rng(0)
    two_s = fbank(rng.standard_normal(2 * SR).astype(np.float32) * 0.1)
    assert tuple(two_s.shape) == (1, 128, 204)
    one_s = fbank(rng.standard_normal(SR).astype(np.float32) * 0.1)
    # 1 s gives 98 frames (25 ms window, 10 ms shift); the rest is zero padding, then normalised
    assert np.allclose(one_s[0, :, 98:].numpy(), -FBANK_MEAN / FBANK_STD)
    assert not np.allclose(one_s[0, :, 97].numpy(), -FBANK_MEAN / FBANK_STD)
    assert tuple(fbank(np.zeros(3 * SR, np.float32)).shape) == (1, 128, 204)


def test_fbank_normalisation_known_answer_on_silence():
    # Kaldi floors the mel energy at float32 epsilon: log(2**-23), then (x + 4.268) / 9.138
    # 2 s gives 198 frames; the last 6 of the 204 are zero padding
    x = fbank(np.zeros(2 * SR, np.float32)).numpy()
    assert np.allclose(x[0, :, :198], (math.log(2.0 ** -23) - FBANK_MEAN) / FBANK_STD, atol=1e-5)
    assert np.allclose(x[0, :, 198:], -FBANK_MEAN / FBANK_STD, atol=1e-6)


def test_fbank_removes_the_mean_first():
    x = np.random.default_rng(1).standard_normal(2 * SR).astype(np.float32) * 0.1
    assert np.allclose(fbank(x).numpy(), fbank(x + 0.25).numpy(), atol=1e-4)


def test_audio_input_shape_and_minimum_length():
    assert tuple(audio_input(np.zeros(5 * SR, np.float32)).shape) == (3, 1, 128, 204)
    with pytest.raises(NotScorable):
        audio_input(np.zeros(399, np.float32))


@pytest.mark.parametrize("seconds, pairs", [(5.0, 1), (9.0, 3), (4.0, 1)])
def test_video_frames_at_half_fps_in_pairs_times_three_crops(tone_clip, seconds, pairs):
    frames = tone_clip(seconds=seconds, size=(48, 64)).video_at(0.5)
    assert tuple(video_input(frames).shape) == (3 * pairs, 3, 2, 224, 224)


@pytest.mark.parametrize("hw, offsets", [
    ((224, 448), [(0, 0), (0, 112), (0, 224)]),  # landscape: left, centre, right
    ((448, 224), [(0, 0), (112, 0), (224, 0)]),  # portrait: top, centre, bottom
    ((224, 225), [(0, 0), (0, 1), (0, 1)]),  # centre offset ceil(1 / 2) = 1, as ImageBind's uniform_crop
    ((224, 224), [(0, 0)] * 3),
])
def test_crop_offsets_known_answers(hw, offsets):
    assert crop_offsets(*hw) == offsets


def test_three_crops_known_answer():
    # 224 x 448 frames need no resize; red encodes the column, green the frame, so each crop and
    # pair of the input can be read back: crop k starts at column 112 k, pair i holds frames i, i+1
    frames = np.zeros((3, 224, 448, 3), np.uint8)
    frames[..., 0] = (np.arange(448) // 2)[None, None, :]
    frames[..., 1] = np.arange(3)[:, None, None] * 50
    x = video_input(frames).numpy()
    assert x.shape == (6, 3, 2, 224, 224)  # 3 crops x 2 pairs, crop-major
    unnorm = lambda c, v: v * (0.26862954, 0.26130258, 0.27577711)[c] + (0.48145466, 0.4578275, 0.40821073)[c]  # noqa: E731
    for k in range(3):
        for i in range(2):
            clip = x[2 * k + i]
            assert np.allclose(unnorm(0, clip[0, 0, 5]) * 255, (112 * k + np.arange(224)) // 2, atol=1e-3)
            assert np.allclose(unnorm(1, clip[1, :, 7, 9]) * 255, [50 * i, 50 * (i + 1)], atol=1e-3)


def test_video_shorter_than_4s_is_not_scorable(tone_clip):
    with pytest.raises(NotScorable, match="at least 4 s"):
        video_input(tone_clip(seconds=3.0).video_at(0.5))


def test_video_resize_crop_and_normalisation_known_answer():
    frames = np.zeros((2, 90, 160, 3), np.uint8)
    frames[..., 0], frames[..., 1], frames[..., 2] = 200, 100, 50
    frames[:, :, :10] = 0  # a dark stripe on the left edge: in the left crop only
    x = video_input(frames).numpy()
    # 90 x 160 -> 224 x 398 (torchvision floors the long side); crops at columns 0, 87, 174
    for c, v in enumerate((200, 100, 50)):
        mean, std = (0.48145466, 0.4578275, 0.40821073)[c], (0.26862954, 0.26130258, 0.27577711)[c]
        assert np.allclose(x[1:, c], (v / 255 - mean) / std, atol=1e-4)
        assert np.allclose(x[0, c, :, :, 40:], (v / 255 - mean) / std, atol=1e-4)
        assert np.allclose(x[0, c, :, :, :20], (0 - mean) / std, atol=1e-4)


def test_ib_a_text_choice(make_case):
    assert caption_for_ib_a(make_case(subset="ambient", audio_caption="rain")) == ("audio_caption", "rain")
    assert caption_for_ib_a(make_case(spoken_word_en="hi")) == ("video_caption", "a man is speaking")


def test_missing_weights_are_named(empty_weights):
    assert ImageBindScores().availability() == "weights missing: imagebind/imagebind_huge.pth"


def test_scores_are_cosines_of_one_forward_pass(weights_env, tone_clip, make_case):
    import torch

    metric = ImageBindScores()
    metric.setup()
    calls = []
    forward = metric.model.forward
    metric.model.forward = lambda inputs: calls.append(sorted(inputs)) or forward(inputs)
    clip = tone_clip(seconds=5.0, sample_rate=48_000, channels=2)
    case = make_case(subset="complex", audio_caption="a door slams", spoken_word_en="Hi.")
    s = metric.score(clip, case)
    assert calls == [["audio"], ["vision"], ["text"]]  # one audio pass serves IB-A and IB (3 clips: one batch)
    assert s.details == {"ib_a_text_field": "audio_caption", "video_clips": 3}  # 1 pair x 3 crops

    with torch.inference_mode():  # independent recomputation
        emb = forward({"audio": audio_input(clip.audio_at(SR))[None],
                       "vision": video_input(clip.video_at(0.5))[None],
                       "text": metric.tokenizer("a door slams")[None]})
    a, v, t = (emb[k][0].numpy().astype(np.float64) for k in ("audio", "vision", "text"))
    cos = lambda p, q: p @ q / np.linalg.norm(p) / np.linalg.norm(q)  # noqa: E731
    assert s.values["IB-A"] == pytest.approx(cos(a, t), abs=1e-5)
    assert s.values["IB"] == pytest.approx(cos(a, v), abs=1e-5)
    # the reference's averaging: each (pair, crop) clip embedded alone, L2-normalised by the model's
    # postprocessor, then the plain mean of the three (extract_video.py feeds them as one batch row)
    with torch.inference_mode():
        each = [forward({"vision": c[None, None]})["vision"][0].numpy().astype(np.float64)
                for c in video_input(clip.video_at(0.5))]
    assert all(np.linalg.norm(e) == pytest.approx(1.0, abs=1e-5) for e in each)
    assert s.values["IB"] == pytest.approx(cos(a, np.mean(each, axis=0)), abs=1e-5)
    assert all(isinstance(x, float) and -1 <= x <= 1 for x in s.values.values())


def test_architecture_override_refuses_unknown_settings(weights_env, tmp_path):
    import shutil

    shutil.copy(weights_env / "imagebind/imagebind_huge.pth", tmp_path / "ib.pth")
    (tmp_path / "ib.pth.arch.json").write_text(json.dumps({"video_frames": 2, "audio_kernel_size": 16}))
    with pytest.raises(ValueError, match="audio_kernel_size, video_frames"):
        load_imagebind(tmp_path / "ib.pth")


def test_a_state_dict_for_another_architecture_is_refused(weights_env, tmp_path):
    import shutil

    shutil.copy(weights_env / "imagebind/imagebind_huge.pth", tmp_path / "ib.pth")
    settings = json.loads((weights_env / "imagebind/imagebind_huge.pth.arch.json").read_text())
    (tmp_path / "ib.pth.arch.json").write_text(json.dumps({**settings, "audio_embed_dim": 48}))
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_imagebind(tmp_path / "ib.pth")
