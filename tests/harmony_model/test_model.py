import pytest
import torch

from harmony_model.config import HarmonyConfig
from harmony_model.losses import Latents, Noise, audio_mse, cts_loss, task_inputs, video_mse
from harmony_model.model import HarmonyModel
from tests.harmony_model.conftest import micro_config, randomise_interactions


def conditions(model, n=2):
    return model.encode_conditions(["a red ball"] * n, ["a thud"] * n, ["hello"] * n)


def run(model, lat, sigma_v, sigma_a, cond):
    b = lat.video.shape[0]
    return model(lat.video, lat.audio, lat.ref_audio, torch.full((b,), sigma_v), torch.full((b,), sigma_a), cond)


def test_config_json_round_trip_and_unknown_keys(tmp_path, cfg):
    cfg.save(tmp_path / "c.json")
    assert HarmonyConfig.load(tmp_path / "c.json") == cfg
    bad = cfg.to_dict()
    bad["interaction"]["windw"] = 2
    with pytest.raises(ValueError, match="windw"):
        HarmonyConfig.from_dict(bad)
    typo = cfg.to_dict()
    typo["interaction"]["mode"] = "gldl"
    with pytest.raises(ValueError, match="gldl"):
        HarmonyConfig.from_dict(typo)


def test_output_shapes(model, latents):
    with torch.no_grad():
        out = run(model, latents, 0.5, 0.5, conditions(model))
    assert out.video.shape == latents.video.shape
    assert out.audio.shape == latents.audio.shape


def test_untrained_interaction_leaves_the_video_branch_pure_wan(model, latents):
    """Zero-initialised interaction outputs: the joint model's video equals the video branch alone."""
    cond = conditions(model)
    with torch.no_grad():
        joint = run(model, latents, 0.7, 0.3, cond).video
        t = torch.full((2, 4 * 4), 700.0)
        t[:, :4] = 0  # the reference frame's tokens
        alone = model.video(latents.video, t, cond.video_text)
    torch.testing.assert_close(joint, alone, rtol=1e-5, atol=1e-5)


def test_reference_frame_tokens_sit_at_t0(model, latents):
    seen = []
    model.video.condition_embedder.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    with torch.no_grad():
        run(model, latents, 0.6, 0.6, conditions(model))
    t = seen[0]
    assert torch.all(t[:, :4] == 0) and torch.allclose(t[:, 4:], torch.tensor(600.0))


def test_audio_driven_task_feeds_the_clean_audio_latent(model, latents):
    """t_a = 0: the audio branch input is exactly the clean latent (after the reference)."""
    seen = []
    model.audio.proj_in.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    noise = Noise.draw(latents, 5.0, torch.Generator().manual_seed(0))
    with torch.no_grad():
        cts_loss(model, latents, conditions(model), noise, 0.1, 0.3)
    r = latents.ref_audio.shape[1]
    audio_in = seen[0][:, r:].chunk(3)  # joint, audio-driven, video-driven
    torch.testing.assert_close(audio_in[1], latents.audio, rtol=0, atol=0)
    assert not torch.allclose(audio_in[0], latents.audio)
    _, a, sv, sa = task_inputs(latents, noise, "audio_driven")
    assert torch.all(sa == 0) and torch.equal(sv, noise.sigma)


def test_cts_loss_is_the_weighted_sum_of_the_three_losses(cfg, latents):
    torch.manual_seed(0)
    model = HarmonyModel(cfg).eval()
    randomise_interactions(model)
    cond = conditions(model)
    noise = Noise.draw(latents, 5.0, torch.Generator().manual_seed(3))
    with torch.no_grad():
        batched = cts_loss(model, latents, cond, noise, 0.1, 0.3)
        target_v, target_a = noise.video - latents.video, noise.audio - latents.audio
        outs = {}
        for task in ("joint", "audio_driven", "video_driven"):
            v, a, sv, sa = task_inputs(latents, noise, task)
            outs[task] = model(v, a, latents.ref_audio, sv, sa, cond)
    joint = video_mse(outs["joint"].video, target_v) + audio_mse(outs["joint"].audio, target_a)
    ad = video_mse(outs["audio_driven"].video, target_v)
    vd = audio_mse(outs["video_driven"].audio, target_a)
    torch.testing.assert_close(batched.total, joint + 0.1 * ad + 0.3 * vd, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(batched.audio_driven, ad, rtol=1e-5, atol=1e-6)
    assert ad != vd  # the three terms really differ


def test_cts_off_is_plain_joint_loss(model, latents):
    noise = Noise.draw(latents, 5.0, torch.Generator().manual_seed(3))
    with torch.no_grad():
        plain = cts_loss(model, latents, conditions(model), noise, 0.0, 0.0)
    assert plain.audio_driven is None and torch.equal(plain.total, plain.joint)


def test_interaction_modes_change_the_output(latents):
    outs = {}
    for mode in ("none", "global", "gldi"):
        torch.manual_seed(0)
        model = HarmonyModel(micro_config(mode=mode)).eval()
        randomise_interactions(model)
        with torch.no_grad():
            outs[mode] = run(model, latents, 0.5, 0.5, conditions(model)).audio
    assert not torch.allclose(outs["none"], outs["gldi"])
    assert not torch.allclose(outs["global"], outs["gldi"])


def test_save_load_round_trip_gives_identical_outputs(tmp_path, cfg, latents):
    torch.manual_seed(0)
    model = HarmonyModel(cfg).eval()
    randomise_interactions(model)
    folder = model.save_pretrained(tmp_path / "ckpt")
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors"}
    loaded = HarmonyModel.from_pretrained(folder)
    with torch.no_grad():
        a = run(model, latents, 0.4, 0.8, conditions(model))
        b = run(loaded, latents, 0.4, 0.8, conditions(loaded))
    assert torch.equal(a.video, b.video) and torch.equal(a.audio, b.audio)


def test_from_pretrained_names_the_missing_file(tmp_path, model):
    model.save_pretrained(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        HarmonyModel.from_pretrained(tmp_path / "ckpt")


def test_bfloat16_forward_follows_float32(cfg, latents):
    """Paper scale runs in bfloat16: norms and timestep embeddings stay consistent in that dtype."""
    torch.manual_seed(0)
    model = HarmonyModel(cfg).eval()
    randomise_interactions(model)
    with torch.no_grad():
        ref = run(model, latents, 0.5, 0.3, conditions(model))
        model.to(torch.bfloat16)
        out = run(model, latents, 0.5, 0.3, conditions(model))
    assert out.video.dtype == out.audio.dtype == torch.bfloat16
    for got, want in ((out.video, ref.video), (out.audio, ref.audio)):
        assert (got.float() - want).abs().max() < 0.05 * want.abs().max()


def test_configs_do_not_share_mutable_defaults():
    from harmony_model.config import tiny

    a, b = tiny(), tiny()
    a.train.stages[0].lambda_v = 0.0
    a.interaction.mode = "none"
    assert b.train.stages[0].lambda_v == 0.1 and b.interaction.mode == "gldi"


def test_committed_configs_load():
    from pathlib import Path

    from harmony_model.config import paper, tiny

    folder = Path(__file__).resolve().parents[2] / "harmony_model" / "configs"
    assert HarmonyConfig.load(folder / "tiny.json") == tiny()
    assert HarmonyConfig.load(folder / "paper.json") == paper()
    stages = HarmonyConfig.load(folder / "tiny-curriculum.json").train.stages
    assert [s.name for s in stages] == ["audio-pretraining", "timbre-disentanglement", "cross-task-joint"]


def test_tiny_tokens_fit_through_the_model_width():
    """With more values per token than channels, an output projection has rank below its output
    size and most of the velocity is out of reach: on SynthAV, 1x2x2 video patches (192 values,
    width 64) could not even overfit 4 clips (video loss 0.75 against 0.09 with 1x1x1 patches), and
    128-value audio latents (two stacked mel frames) kept the audio loss at 0.64."""
    from pathlib import Path

    from harmony_model.pretrained import build_codecs
    from harmony_model.config import tiny
    from harmony_model.synthav.ablation import Budget, base_config

    folder = Path(__file__).resolve().parents[2] / "harmony_model" / "configs"
    configs = [tiny(), base_config(Budget()), *(HarmonyConfig.load(folder / n)
                                                for n in ("tiny.json", "tiny-curriculum.json", "tiny-synthav-curriculum.json"))]
    for cfg in configs:
        model = HarmonyModel(cfg)
        for proj in (model.video.proj_out.weight, model.audio.proj_out.weight):
            assert torch.linalg.matrix_rank(proj.detach()) == proj.shape[0], cfg
        assert build_codecs(cfg.codec)[1].encode(torch.zeros(1, 4096)).shape[-1] == cfg.audio.latent_channels


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_forward_matches_cpu(cfg, latents):
    torch.manual_seed(0)
    model = HarmonyModel(cfg).eval()
    randomise_interactions(model)
    with torch.no_grad():
        ref = run(model, latents, 0.5, 0.3, conditions(model))
        model.cuda()
        lat = Latents(latents.video.cuda(), latents.audio.cuda(), latents.ref_audio.cuda())
        out = run(model, lat, 0.5, 0.3, conditions(model))
    torch.testing.assert_close(out.video.cpu(), ref.video, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(out.audio.cpu(), ref.audio, rtol=1e-3, atol=1e-3)


def test_the_interaction_geometry_is_built_once_per_clip_shape():
    """Sampling calls the model 40 times on one shape: the masks and RoPE tables are made once, and
    made again for another window or another shape."""
    model = HarmonyModel(micro_config())
    frames = torch.arange(6).repeat_interleave(4)
    first = model.geometry(frames, 6, 20)
    assert model.geometry(frames, 6, 20) is first
    model.cfg.interaction.window = 2.0
    wider = model.geometry(frames, 6, 20)
    assert wider is not first and wider.video_to_audio.sum() > first.video_to_audio.sum()
    assert model.geometry(torch.arange(8).repeat_interleave(4), 8, 26).video_to_audio.shape == (32, 26)
