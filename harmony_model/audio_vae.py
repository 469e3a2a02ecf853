"""MMAudio-style audio VAE (the paper's audio VAE, ref. [5]) as an audio codec, from local weights.

16 kHz: log10 mel (80 bins, n_fft 1024, hop 256, fmax 8 kHz) -> a 1D convolutional VAE with
magnitude-preserving layers (EDM2 style) and one 2x temporal downsampling -> 20 channels at
31.25 Hz. Module and parameter names follow MMAudio's `VAE_16k` so its released `v1-16.pth`
loads with strict key matching; the architecture constants below are MMAudio's 16 kHz ones.

Waveform decoding uses the weight-free mel inversion (Griffin-Lim) of harmony_model/codecs.py:
MMAudio's BigVGAN vocoder (`best_netG.pt`) is not implemented here. The mel framing is
MMAudio's (reflect padding of (n_fft - hop) / 2, no centring); Griffin-Lim frames are centred,
which shifts the decoded audio by hop / 2 samples (8 ms).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import torchaudio.functional as AF
from torch import nn

from harmony_bench.weights import WeightFile, resolve
from harmony_model.codecs import MelInverter

MMAUDIO_VAE_16K = WeightFile(
    "mmaudio/v1-16.pth", None, "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/v1-16.pth",
    "CC-BY-NC 4.0 (MMAudio weights)", size_bytes=None,
    note="no public sha256; MMAudio's download_utils.py pins md5 69f56803f59a549a1a507c93859fd4d7")

SAMPLE_RATE, N_FFT, HOP, N_MELS, F_MAX = 16_000, 1024, 256, 80, 8_000.0
HIDDEN, LATENT, CH_MULT, RES_BLOCKS = 384, 20, (1, 2, 4), 2
CLIP = 256.0  # activation clamp of MMAudio's VAE


def normalize(x: torch.Tensor, dim, eps: float = 1e-4) -> torch.Tensor:
    """Scale to unit RMS magnitude over `dim` (EDM2's normalize)."""
    norm = torch.linalg.vector_norm(x, dim=dim, keepdim=True, dtype=torch.float32)
    norm = eps + norm * math.sqrt(norm.numel() / x.numel())
    return x / norm.to(x.dtype)


def mp_silu(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x) / 0.596  # magnitude-preserving SiLU (EDM2 Eq. 81)


def mp_sum(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return a.lerp(b, t) / math.sqrt((1 - t) ** 2 + t**2)  # magnitude-preserving sum (EDM2 Eq. 88)


class MPConv1D(nn.Module):
    """Convolution whose weights are normalised once after loading (`fold_weight_norm`)."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel))

    def forward(self, x: torch.Tensor, gain: torch.Tensor | float = 1.0) -> torch.Tensor:
        w = self.weight * gain
        return F.conv1d(x, w, padding=w.shape[-1] // 2)

    @torch.no_grad()
    def fold_weight_norm(self) -> None:
        w = normalize(self.weight.float(), dim=[1, 2])
        self.weight.copy_(w / math.sqrt(w[0].numel()))


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = MPConv1D(cin, cout, 3)
        self.conv2 = MPConv1D(cout, cout, 3)
        self.nin_shortcut = MPConv1D(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = normalize(x, dim=1)  # pixel norm
        h = self.conv2(mp_silu(self.conv1(mp_silu(x))))
        return mp_sum(x if self.nin_shortcut is None else self.nin_shortcut(x), h, 0.3)


class SelfAttention(nn.Module):
    """Single-head attention over time with cosine (normalised) queries, keys and values."""

    def __init__(self, channels: int):
        super().__init__()
        self.qkv = MPConv1D(channels, 3 * channels, 1)
        self.proj_out = MPConv1D(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.qkv(x).reshape(x.shape[0], 1, x.shape[1], 3, x.shape[2])
        q, k, v = (t.transpose(-1, -2) for t in normalize(y, dim=2).unbind(3))  # (B, 1, L, C)
        h = F.scaled_dot_product_attention(q, k, v).transpose(-1, -2).flatten(1, 2)
        return mp_sum(x, self.proj_out(h), 0.3)


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = MPConv1D(channels, channels, 1)
        self.conv2 = MPConv1D(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.avg_pool1d(self.conv1(x), 2))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = MPConv1D(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest-exact"))


class Level(nn.Module):
    """One resolution level: residual blocks, then an optional resampling (`downsample`/`upsample`)."""

    def __init__(self, blocks: list[nn.Module], resample: tuple[str, nn.Module] | None):
        super().__init__()
        self.block = nn.ModuleList(blocks)
        self.attn = nn.ModuleList()  # MMAudio's 16 kHz VAE has no attention inside levels
        if resample:
            setattr(self, *resample)


class Middle(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.block_1 = ResBlock(channels, channels)
        self.attn_1 = SelfAttention(channels)
        self.block_2 = ResBlock(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x))).clamp(-CLIP, CLIP)


class Encoder(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.conv_in = MPConv1D(N_MELS, hidden, 3)
        self.down = nn.ModuleList()
        cin = hidden
        for level, mult in enumerate(CH_MULT):
            blocks = [ResBlock(cin if i == 0 else hidden * mult, hidden * mult) for i in range(RES_BLOCKS)]
            cin = hidden * mult
            self.down.append(Level(blocks, ("downsample", Downsample(cin)) if level == 0 else None))
        self.mid = Middle(cin)
        self.conv_out = MPConv1D(cin, 2 * LATENT, 3)  # mean and log-variance
        self.learnable_gain = nn.Parameter(torch.zeros([]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.down:
            for block in level.block:
                h = block(h).clamp(-CLIP, CLIP)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        return self.conv_out(mp_silu(self.mid(h)), gain=self.learnable_gain + 1)


class Decoder(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        cin = hidden * CH_MULT[-1]
        self.conv_in = MPConv1D(LATENT, cin, 3)
        self.mid = Middle(cin)
        levels = []
        for level in reversed(range(len(CH_MULT))):
            cout = hidden * CH_MULT[level]
            blocks = [ResBlock(cin if i == 0 else cout, cout) for i in range(RES_BLOCKS + 1)]
            cin = cout
            levels.insert(0, Level(blocks, ("upsample", Upsample(cout)) if level == 1 else None))
        self.up = nn.ModuleList(levels)  # indexed by level, run from the deepest
        self.conv_out = MPConv1D(cin, N_MELS, 3)
        self.learnable_gain = nn.Parameter(torch.zeros([]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            for block in level.block:
                h = block(h).clamp(-CLIP, CLIP)
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        return self.conv_out(mp_silu(h), gain=self.learnable_gain + 1)


class AudioVAE(nn.Module):
    def __init__(self, hidden: int = HIDDEN):
        super().__init__()
        self.register_buffer("data_mean", torch.zeros(1, N_MELS, 1))  # mel statistics, from the checkpoint
        self.register_buffer("data_std", torch.ones(1, N_MELS, 1))
        self.encoder = Encoder(hidden)
        self.decoder = Decoder(hidden)

    def fold_weight_norm(self) -> "AudioVAE":
        for m in self.modules():
            if isinstance(m, MPConv1D):
                m.fold_weight_norm()
        return self

    def encode(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(B, 80, frames) log10 mel -> posterior mean (B, 20, frames / 2)."""
        return self.encoder((log_mel - self.data_mean) / self.data_std).chunk(2, dim=1)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z) * self.data_std + self.data_mean


def load_vae() -> AudioVAE:
    """The VAE from `$HARMONY_BENCH_WEIGHTS/mmaudio/v1-16.pth` (width read from the file)."""
    path, _ = resolve(MMAUDIO_VAE_16K)
    state = torch.load(path, map_location="cpu", weights_only=True)
    vae = AudioVAE(hidden=state["encoder.conv_in.weight"].shape[0])
    vae.load_state_dict(state, strict=True)
    return vae.fold_weight_norm()


class MMAudioVAECodec:
    """AudioCodec over the MMAudio-style VAE: (B, N) 16 kHz <-> (B, N / 512, 20)."""

    latent_rate = SAMPLE_RATE / HOP / 2
    sample_rate = SAMPLE_RATE

    def __init__(self, vae: AudioVAE | None = None, griffin_lim_iters: int = 32):
        self.vae = (vae or load_vae()).eval()
        # librosa's default mel filters (Slaney scale and norm), as MMAudio builds them
        self.fbank = AF.melscale_fbanks(N_FFT // 2 + 1, 0.0, F_MAX, N_MELS, SAMPLE_RATE, norm="slaney",
                                        mel_scale="slaney")
        self.window = torch.hann_window(N_FFT)
        self.invert = MelInverter(self.fbank, N_FFT, HOP, griffin_lim_iters)

    def latent_frames(self, num_samples: int) -> int:
        return num_samples // HOP // 2

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        pad = (N_FFT - HOP) // 2
        x = F.pad(wave.float().clamp(-1, 1)[:, None], (pad, pad), mode="reflect")[:, 0]
        spec = torch.stft(x, N_FFT, HOP, window=self.window.to(x.device), center=False, return_complex=True)
        mag = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
        return torch.log10(torch.einsum("fm,bft->bmt", self.fbank.to(x.device), mag).clamp_min(1e-5))

    @torch.no_grad()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        mel = self.log_mel(wave)[..., : 2 * self.latent_frames(wave.shape[-1])]
        return self.vae.encode(mel).transpose(1, 2)

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        mel = self.vae.decode(latent.transpose(1, 2))  # (B, 80, frames) log10
        return self.invert(torch.pow(10.0, mel).transpose(1, 2))
