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
