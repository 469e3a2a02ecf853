"""IQ: the native MUSIQ's preprocessing rules and VBench's resize cap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harmony_bench.metrics.registry import get_metric
from harmony_bench.metrics.video.frames import cap_longer_side
from harmony_bench.metrics.video.iq import musiq_frame_scores
from harmony_bench.metrics.video.musiq import Encoder, Musiq, MusiqConfig, hashed_positions, multiscale_patches, same_pad


@pytest.mark.parametrize("size, kernel, stride, pads", [(7, 3, 2, (1, 1)), (8, 3, 2, (0, 1)), (64, 32, 32, (0, 0)),
                                                          (70, 32, 32, (13, 13)), (9, 7, 2, (3, 3))])
def test_same_padding_follows_tensorflow(size, kernel, stride, pads):
    x = torch.ones(1, 1, size, size)
    out = same_pad(x, kernel, stride)
    assert out.shape[-1] == size + sum(pads)
    assert out[0, 0, 0, : pads[0]].sum() == 0 and out[0, 0, pads[0], pads[0]] == 1


def test_hashed_positions_spread_patches_over_the_grid():
    # rows hash to floor(i * 10 / 2) = 0, 5; columns to floor(j * 10 / 3) = 0, 3, 6
    assert hashed_positions(10, 2, 3).tolist() == [0, 3, 6, 50, 53, 56]


def test_multiscale_patches_count_pad_and_label_each_scale():
    cfg = MusiqConfig()
    patches, spatial, scale, mask = multiscale_patches(torch.zeros(1, 3, 64, 96), cfg)
    # 224 scale: 149x224 -> 5x7 = 35 patches padded to 49; 384 scale: 256x384 -> 8x12 = 96 of 144;
    # original: 2x3 = 6 patches, unpadded
    assert patches.shape == (1, 49 + 144 + 6, 3 * 32 * 32)
    assert mask.sum().item() == 35 + 96 + 6
    assert [int((scale[0][mask[0] == 1] == s).sum()) for s in (0, 1, 2)] == [35, 96, 6]
    assert spatial[0, 49 + 144 :].tolist() == hashed_positions(10, 2, 3).tolist()


def test_masked_padding_tokens_do_not_change_the_class_token():
    torch.manual_seed(0)
    enc = Encoder(MusiqConfig(hidden=12, mlp_dim=24, layers=2)).eval()
    for p in enc.parameters():
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(1, 5, 12)
    pos, sc, m = torch.tensor([[0, 1, 2, 3, 4]]), torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 5, dtype=torch.long)
    base = enc(x, pos, sc, m)[:, 0]
    padded = enc(torch.cat([x, torch.randn(1, 3, 12)], 1), torch.cat([pos, torch.zeros(1, 3, dtype=torch.long)], 1),
                 torch.cat([sc, torch.zeros(1, 3, dtype=torch.long)], 1), torch.cat([m, torch.zeros(1, 3, dtype=torch.long)], 1))
    assert torch.allclose(base, padded[:, 0], atol=1e-5)


@pytest.mark.parametrize("hw, expected", [((720, 1280), (288, 512)), ((300, 400), (300, 400)),
                                          ((1000, 1500), (341, 512)), ((512, 512), (512, 512)),
                                          ((1000, 1200), (426, 512)), ((1300, 700), (512, 275))])
def test_vbench_cap_on_the_longer_side(hw, expected):
    # VBench truncates (int(s*h)): 426.67 -> 426 and 275.69 -> 275, where rounding gives 427 and 276
    assert tuple(cap_longer_side(torch.zeros(1, 3, *hw), 512).shape[-2:]) == expected


def test_clip_score_is_mean_of_independent_frame_scores_over_100(weights_env, synth):
    metric = get_metric("iq@musiq-spaq")()
    metric.setup()
    frames = synth.translating(n=3)
    one_by_one = np.array([musiq_frame_scores(metric._model, f[None], "cpu", 512, 1)[0] for f in frames])
    score = metric.score(synth.clip(frames), None)
    assert score.values["IQ"] == pytest.approx(one_by_one.mean() / 100, rel=1e-5)
    assert score.details["checkpoint"] == "musiq/musiq_spaq_ckpt-358bb6af.pth"


def test_native_musiq_matches_pyiqa_on_a_seeded_checkpoint():
    """Expected values computed once with pyiqa's MUSIQ (IQA-PyTorch commit 01ae427,
    pyiqa/archs/musiq_arch.py, MUSIQ(pretrained=False, num_class=1, hidden_size=48, mlp_dim=96,
    num_layers=2)) loaded with the same seeded state dict and fed the same seeded images."""
    g = torch.Generator().manual_seed(7)
    template = Musiq(MusiqConfig(hidden=48, mlp_dim=96, layers=2))
    state = {k: torch.randn(v.shape, generator=g) * 0.2 for k, v in template.state_dict().items()}
    model = Musiq(MusiqConfig.from_state_dict(state))
    model.load_state_dict(state)
    g = torch.Generator().manual_seed(8)
    images = [torch.rand(2, 3, 72, 120, generator=g), torch.rand(1, 3, 400, 260, generator=g)]
    with torch.no_grad():
        got = [model.eval()(x).tolist() for x in images]
    assert got[0] == pytest.approx([0.6774023771286011, 0.6715357303619385], abs=1e-5)
    assert got[1] == pytest.approx([0.6681166291236877], abs=1e-5)


class Recorder(torch.nn.Module):
    """Stands in for MUSIQ: keeps the image it is given, scores it 50."""

    def forward(self, x):
        self.seen = x.clone()
        return torch.full((x.shape[0],), 50.0)


def test_vbench_longer_cap_known_answer_against_torchvision_resize():
    # VBench 45e79ec imaging_quality.transform('longer'): torch.Tensor(frames) (float 0-255), then
    # transforms.Resize((int(s*h), int(s*w)), antialias=False), then / 255. Reproduced with the
    # reference's own torchvision call on the same frame.
    from torchvision import transforms

    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (600, 1000, 3), dtype=np.uint8)
    model = Recorder()
    musiq_frame_scores(model, frame[None], "cpu", 512, 1)
    ref = transforms.Resize(size=(int(512 / 1000 * 600), int(512 / 1000 * 1000)), antialias=False)(
        torch.Tensor(frame[None]).permute(0, 3, 1, 2)) / 255.0
    assert model.seen.shape == ref.shape == (1, 3, 307, 512)
    assert torch.allclose(model.seen, ref, atol=1e-6)
    # not re-quantised: most values fall between uint8 levels
    assert (model.seen * 255 - (model.seen * 255).round()).abs().gt(1e-3).float().mean() > 0.5
    # and not antialiased: the antialiased resize differs visibly on this noise
    smooth = transforms.Resize(size=(307, 512), antialias=True)(torch.Tensor(frame[None]).permute(0, 3, 1, 2)) / 255.0
    assert (model.seen - smooth).abs().mean() > 0.02


def test_frames_at_or_under_the_cap_reach_musiq_unchanged():
    frame = np.random.default_rng(4).integers(0, 256, (512, 300, 3), dtype=np.uint8)
    model = Recorder()
    musiq_frame_scores(model, frame[None], "cpu", 512, 1)
    assert torch.equal(model.seen, torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0)
