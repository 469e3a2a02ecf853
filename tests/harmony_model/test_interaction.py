import pytest
import torch

from harmony_model.config import InteractionConfig
from harmony_model.interaction import InteractionGeometry, InteractionLayer, audio_positions, window_mask
from harmony_model.layers import rope_angles

TV, TA, TOKENS = 5, 16, 4  # video latent frames, audio latent frames, tokens per video frame


def layer_and_inputs(mode="gldi", window=1.0, rope_align=True):
    torch.manual_seed(0)
    ic = InteractionConfig(mode=mode, window=window, rope_align=rope_align)
    layer = InteractionLayer(ic, 16, 24, heads=2)
    for mod in (layer.a2v, layer.v2a):
        torch.nn.init.normal_(mod.attn.to_out[0].weight, std=0.3)
    frame_of_token = torch.arange(TV).repeat_interleave(TOKENS)
    geometry = InteractionGeometry(ic, frame_of_token, TV, TA)
    v = torch.randn(1, TV * TOKENS, 16, requires_grad=True)
    a = torch.randn(1, TA, 24, requires_grad=True)
    r = torch.randn(1, 3, 24)
    return layer, geometry, v, a, r


def test_a2v_gradient_is_exactly_zero_outside_the_window():
    layer, geometry, v, a, r = layer_and_inputs()
    frame = 2
    v_out, _, _ = layer(v, a, r, geometry)
    v_out[0, frame * TOKENS : (frame + 1) * TOKENS].sum().backward()
    grad = a.grad[0].abs().sum(-1)
    inside = window_mask(TV, TA, 1.0)[frame]
    assert inside.any() and (~inside).any()
    assert torch.all(grad[~inside] == 0)
    assert torch.all(grad[inside] > 0)


def test_v2a_gradient_is_exactly_zero_outside_the_window():
    layer, geometry, v, a, r = layer_and_inputs()
    j = 9
    _, a_out, _ = layer(v, a, r, geometry)
    a_out[0, j].sum().backward()
    grad = v.grad[0].abs().sum(-1).view(TV, TOKENS).sum(-1)  # per video frame
    inside = window_mask(TV, TA, 1.0)[:, j]
    assert inside.any() and (~inside).any()
    assert torch.all(grad[~inside] == 0)
    assert torch.all(grad[inside] > 0)


def test_global_mode_has_no_window():
    layer, geometry, v, a, r = layer_and_inputs(mode="global")
    v_out, _, _ = layer(v, a, r, geometry)
    v_out[0, :TOKENS].sum().backward()
    assert torch.all(a.grad[0].abs().sum(-1) > 0)


def test_window_follows_time_not_index():
    mask = window_mask(4, 16, 0.5)  # 4 audio latents per video latent
    assert mask[1].nonzero().flatten().tolist() == [2, 3, 4, 5, 6]  # |j/4 - 1| <= 0.5
    with pytest.raises(ValueError, match="window"):
        InteractionGeometry(InteractionConfig(window=0.1), torch.arange(4), 4, 16)


def test_rope_alignment_gives_equal_phases_at_equal_times():
    tv, ta = 8, 32  # audio frame 4i happens at the time of video frame i
    head_dim = 16
    video_cos, video_sin = rope_angles(torch.arange(tv).double(), head_dim)
    for align, expect_equal in ((True, True), (False, False)):
        cos, sin = rope_angles(audio_positions(tv, ta, align), head_dim)
        same = torch.allclose(cos[12], video_cos[3]) and torch.allclose(sin[12], video_sin[3])
        assert same is expect_equal
    aligned = audio_positions(tv, ta, True)
    assert aligned[12].item() == pytest.approx(3.0)


def test_global_style_updates_only_the_reference_latent():
    layer, geometry, v, a, r = layer_and_inputs()
    torch.nn.init.normal_(layer.style.attn.to_out[0].weight, std=0.3)
    _, _, r_out = layer(v, a, r, geometry)
    assert not torch.allclose(r_out, r)
    no_style, geometry, v, a, r = layer_and_inputs()
    no_style.style = None
    assert torch.equal(no_style(v, a, r, geometry)[2], r)


def test_a_long_clip_reads_only_its_bands_and_gets_masked_attentions_result():
    """60 video frames of 16 tokens against 312 audio latents (5 s of the tiny model): each run of
    queries reads a span of keys (layers.BandMask), which must give dense masked SDPA's numbers."""
    from harmony_model.layers import BandMask, attend

    torch.manual_seed(0)
    frame_of_token = torch.arange(60).repeat_interleave(16)
    geometry = InteractionGeometry(InteractionConfig(window=1.0), frame_of_token, 60, 312)
    for band, (nq, nk) in ((geometry.video_to_audio, (960, 312)), (geometry.audio_to_video, (312, 960))):
        assert isinstance(band, BandMask) and band.index.shape[1] < nk // 4
        q, k, v = torch.randn(2, nq, 4, 16), torch.randn(2, nk, 4, 16), torch.randn(2, nk, 4, 16)
        torch.testing.assert_close(attend(q, k, v, band), attend(q, k, v, band.dense), atol=2e-6, rtol=1e-5)


def test_a_band_with_padded_runs_keeps_gradients_finite_and_zero_outside_the_window():
    from harmony_model.layers import BandMask, attend

    torch.manual_seed(1)
    dense = window_mask(50, 130, 1.0).repeat_interleave(3, 0)  # 150 rows: runs of 8 or more pad the last
    band = BandMask(dense)
    assert dense.shape[0] % band.run and band.worthwhile
    q = torch.randn(1, 150, 2, 8, requires_grad=True)
    k = torch.randn(1, 130, 2, 8, requires_grad=True)
    v = torch.randn(1, 130, 2, 8)
    attend(q, k, v, band)[0, 60].sum().backward()
    assert torch.isfinite(k.grad).all() and torch.isfinite(q.grad).all()
    seen = k.grad[0].abs().sum((-1, -2)) > 0
    assert torch.equal(seen, dense[60])


def test_a_wide_window_stays_a_dense_mask():
    frame_of_token = torch.arange(TV).repeat_interleave(TOKENS)
    geometry = InteractionGeometry(InteractionConfig(window=1.0), frame_of_token, TV, TA)
    assert isinstance(geometry.video_to_audio, torch.Tensor)
