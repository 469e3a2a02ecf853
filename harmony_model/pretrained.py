"""Paper-scale components from local files: Wan2.2 weights for the video branch, the Wan2.2 VAE
as the video codec, and umT5 as the caption encoder (the audio VAE is in audio_vae.py). Nothing is downloaded: files are looked up in
the weights folder (`$HARMONY_BENCH_WEIGHTS`) and named as in the diffusers repository
Wan-AI/Wan2.2-TI2V-5B-Diffusers; a missing file raises `WeightsMissing` naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from harmony_bench.weights import WeightFile, locate
from harmony_model.audio_vae import MMAudioVAECodec
from harmony_model.codecs import AudioCodec, LogMelAudioCodec, PixelUnshuffleVideoCodec, VideoCodec
from harmony_model.config import CodecConfig, HarmonyConfig, VideoBranchConfig
from harmony_model.video_branch import WanVideoBranch

WAN_REPO = "https://huggingface.co/Wan-AI/Wan2.2-TI2V-5B-Diffusers"
WAN_TRANSFORMER = WeightFile("wan2.2-ti2v-5b/transformer", None, f"{WAN_REPO}/tree/main/transformer", "Apache-2.0",
                             note="diffusers folder: config.json + sharded safetensors + index")
WAN_VAE = WeightFile("wan2.2-ti2v-5b/vae", None, f"{WAN_REPO}/tree/main/vae", "Apache-2.0",
                     note="diffusers AutoencoderKLWan folder (config.json + diffusion_pytorch_model.safetensors)")
UMT5 = WeightFile("wan2.2-ti2v-5b/text_encoder", None, f"{WAN_REPO}/tree/main/text_encoder", "Apache-2.0",
                  note="umT5-XXL encoder (transformers UMT5EncoderModel); tokenizer in the sibling tokenizer/")


# ---- video branch from a diffusers Wan checkpoint ----------------------------------------------
def wan_branch_config(diffusers_config: dict) -> VideoBranchConfig:
    """VideoBranchConfig equal to a WanTransformer3DModel config (text-to-video form, no image encoder)."""
    c = diffusers_config
    if c.get("image_dim") or c.get("added_kv_proj_dim"):
        raise ValueError("Wan image-encoder variants (I2V 14B) are not the Harmony video branch")
    if c.get("in_channels") != c.get("out_channels", c.get("in_channels")):
        raise ValueError("Harmony's video branch predicts the velocity of its own input channels")
    return VideoBranchConfig(dim=c["num_attention_heads"] * c["attention_head_dim"], heads=c["num_attention_heads"],
                             layers=c["num_layers"], ffn_dim=c["ffn_dim"], in_channels=c["in_channels"],
                             patch_size=tuple(c["patch_size"]), text_dim=c["text_dim"], freq_dim=c["freq_dim"],
                             eps=c["eps"], cross_attn_norm=c["cross_attn_norm"],
                             rope_max_seq_len=c["rope_max_seq_len"])


def read_diffusers_state(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a diffusers model folder, single-file or sharded (with its index json)."""
    from safetensors.torch import load_file

    single = folder / "diffusion_pytorch_model.safetensors"
    if single.is_file():
        return load_file(str(single))
    index = folder / "diffusion_pytorch_model.safetensors.index.json"
    if not index.is_file():
        raise FileNotFoundError(f"no diffusion_pytorch_model.safetensors(.index.json) in {folder}")
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
        state.update(load_file(str(folder / shard)))
    return state


def load_wan_video_branch(folder: str | Path) -> WanVideoBranch:
    folder = Path(folder)
    branch = WanVideoBranch(wan_branch_config(json.loads((folder / "config.json").read_text())))
    branch.load_state_dict(read_diffusers_state(folder), strict=True)
    return branch


def init_video_from_wan(model: nn.Module, folder: str | Path | None = None) -> None:
    """Initialise a HarmonyModel's video branch from Wan2.2 weights, as the paper does (section 4.1)."""
    folder = Path(folder) if folder else locate(WAN_TRANSFORMER)
    expected = wan_branch_config(json.loads((folder / "config.json").read_text()))
    if expected != model.cfg.video:
        raise ValueError(f"the checkpoint's video branch {expected} differs from the config's {model.cfg.video}")
    model.video.load_state_dict(read_diffusers_state(folder), strict=True)


# ---- paper-scale model on the meta device -------------------------------------------------------
def parameter_counts(cfg: HarmonyConfig) -> dict[str, int]:
    """Parameters per part, counted on the meta device (no memory is allocated)."""
    from harmony_model.model import HarmonyModel

    with torch.device("meta"):
        model = HarmonyModel(cfg)
    counts = {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts


# ---- codecs and caption encoder -----------------------------------------------------------------
class WanVAEVideoCodec:
    """diffusers AutoencoderKLWan (Wan2.2: 48 channels, stride 4 x 16 x 16) with its latent normalisation."""

    def __init__(self, cfg: CodecConfig, device: str = "cpu"):
        from diffusers import AutoencoderKLWan

        folder = locate(WAN_VAE)
        self.vae = AutoencoderKLWan.from_pretrained(str(folder), local_files_only=True).to(device).eval()
        c = self.vae.config
        self.mean = torch.tensor(c.latents_mean).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(c.latents_std).view(1, -1, 1, 1, 1)
        self.stride = 2 ** sum(c.temperal_downsample)  # Wan2.2: 4
        self.latent_rate = cfg.fps / self.stride  # causal: frame 0 alone, then `stride` frames per latent

    def latent_frames(self, num_frames: int) -> int:
        return 1 + (num_frames - 1) // self.stride

    @torch.no_grad()
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        z = self.vae.encode(frames.transpose(1, 2).to(self.vae.device)).latent_dist.mean
        return (z - self.mean.to(z)) / self.std.to(z)

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        z = latent * self.std.to(latent) + self.mean.to(latent)
        return self.vae.decode(z).sample.transpose(1, 2).clamp(-1, 1)


class T5CaptionEncoder(nn.Module):
    """Frozen umT5 features padded with zeros to `max_len` tokens (Wan's text conditioning)."""

    def __init__(self, max_len: int = 512, device: str = "cpu"):
        super().__init__()
        from transformers import AutoTokenizer, UMT5EncoderModel

        folder = locate(UMT5)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder.parent / "tokenizer"), local_files_only=True)
        self.encoder = UMT5EncoderModel.from_pretrained(str(folder), local_files_only=True).to(device).eval()
        self.encoder.requires_grad_(False)
        self.max_len = max_len

    @torch.no_grad()
    def forward(self, texts: list[str]) -> torch.Tensor:
        tok = self.tokenizer(texts, padding="max_length", max_length=self.max_len, truncation=True,
                             add_special_tokens=True, return_tensors="pt").to(self.encoder.device)
        h = self.encoder(tok.input_ids, attention_mask=tok.attention_mask).last_hidden_state
        return h * tok.attention_mask[..., None]


def load_t5(model: nn.Module, device: str = "cpu") -> None:
    """Attach the frozen umT5 caption encoder to a HarmonyModel whose caption kind is 't5'."""
    model.external_caption_encoder = T5CaptionEncoder(model.cfg.caption.max_len, device)


def build_codecs(cfg: CodecConfig) -> tuple[VideoCodec, AudioCodec]:
    """The (video, audio) codec pair a config names: the weight-free ones of `codecs`, the Wan2.2 VAE
    or the MMAudio-style VAE. It lives here, above all three modules, so none of them imports back."""
    if cfg.audio == "mmaudio-vae" and cfg.sample_rate != 16000:
        raise ValueError("the MMAudio-style VAE codec is the 16 kHz one")
    video = WanVAEVideoCodec(cfg) if cfg.video == "wan-vae" else PixelUnshuffleVideoCodec(cfg)
    if cfg.audio == "mmaudio-vae":
        return video, MMAudioVAECodec()
    return video, LogMelAudioCodec(cfg)
