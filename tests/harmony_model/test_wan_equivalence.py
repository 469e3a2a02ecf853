"""Our video branch loads a diffusers WanTransformer3DModel checkpoint and computes the same forward."""

import pytest
import torch

from harmony_model.config import VideoBranchConfig
from harmony_model.pretrained import load_wan_video_branch

diffusers = pytest.importorskip("diffusers")


@pytest.mark.parametrize("per_token_timestep", [False, True])
def test_forward_matches_diffusers_wan(tmp_path, per_token_timestep):
    torch.manual_seed(0)
    wan = diffusers.WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=8, out_channels=8,
        text_dim=16, freq_dim=32, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=64).eval()
    wan.save_pretrained(tmp_path / "wan")
    ours = load_wan_video_branch(tmp_path / "wan").eval()
    assert ours.cfg == VideoBranchConfig(dim=24, heads=2, layers=2, ffn_dim=32, in_channels=8, text_dim=16,
                                         freq_dim=32, rope_max_seq_len=64)
    x, text = torch.randn(2, 8, 3, 4, 6), torch.randn(2, 5, 16)
    t = torch.rand(2, 3 * 2 * 3) * 1000 if per_token_timestep else torch.tensor([100.0, 700.0])
    with torch.no_grad():
        expected = wan(x, t, text).sample
        got = ours(x, t, text)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_harmony_model_initialised_from_wan_predicts_wans_video(tmp_path):
    """The paper initialises the video branch from Wan2.2: with the interaction still at its zero
    initialisation, the joint model's video velocity is Wan's (reference frame at t = 0)."""
    from harmony_model.config import AudioBranchConfig, CaptionConfig, HarmonyConfig
    from harmony_model.model import HarmonyModel
    from harmony_model.pretrained import init_video_from_wan, wan_branch_config

    torch.manual_seed(0)
    wan = diffusers.WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=8, out_channels=8,
        text_dim=16, freq_dim=32, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads").eval()
    wan.save_pretrained(tmp_path / "wan")
    cfg = HarmonyConfig(video=wan_branch_config(dict(wan.config)),
                        audio=AudioBranchConfig(dim=24, heads=2, ffn_dim=32, latent_channels=6, text_dim=16,
                                                transcript_max_len=8),
                        caption=CaptionConfig(max_len=8, layers=1, heads=2))
    model = HarmonyModel(cfg).eval()
    init_video_from_wan(model, tmp_path / "wan")
    video, audio, ref = torch.randn(1, 8, 3, 4, 4), torch.randn(1, 10, 6), torch.randn(1, 4, 6)
    with torch.no_grad():
        cond = model.encode_conditions(["a cat"], ["purring"], ["meow"])
        got = model(video, audio, ref, torch.tensor([0.6]), torch.tensor([0.6]), cond).video
        t = torch.full((1, 3 * 2 * 2), 600.0)
        t[:, :4] = 0
        expected = wan(video, t, cond.video_text).sample
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
