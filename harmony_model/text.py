"""Text inputs: the transcript encoder (F5-TTS style) and the caption encoders.

Both tiny encoders read UTF-8 bytes, so English and Mandarin transcripts need no vocabulary file.
Token 256 is padding, 257 marks the start (so no sequence is empty, even a dropped caption).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PAD, BEGIN = 256, 257
BYTE_VOCAB = 258


def byte_tokens(texts: list[str], max_len: int) -> torch.Tensor:
    """(B, max_len) long: BEGIN, the UTF-8 bytes (truncated), then PAD."""
    ids = torch.full((len(texts), max_len), PAD, dtype=torch.long)
    for row, text in enumerate(texts):
        seq = [BEGIN, *text.encode("utf-8")][:max_len]
        ids[row, : len(seq)] = torch.tensor(seq)
    return ids


class GRN(nn.Module):
    """Global response normalisation (ConvNeXt V2), over the time axis."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = x.norm(p=2, dim=1, keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, kernel: int = 7):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, D)
        h = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        h = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(h)))))
        return x + h


class TranscriptEncoder(nn.Module):
    """Character (byte) embedding + ConvNeXt V2 blocks -> e_speech (B, L, dim) (paper ref. [3], F5-TTS)."""

    def __init__(self, vocab: int, dim: int, layers: int, max_len: int):
        super().__init__()
        self.max_len = max_len
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(dim) for _ in range(layers)])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.embed(ids))


class LearnedCaptionEncoder(nn.Module):
    """A small transformer over caption bytes, trained with the model (tiny stand-in for T5).

    Padding positions come out as zeros, as Wan pads its T5 features.
    """

    def __init__(self, dim: int, layers: int, heads: int, max_len: int):
        super().__init__()
        self.max_len = max_len
        self.embed = nn.Embedding(BYTE_VOCAB, dim)
        self.pos = nn.Parameter(torch.randn(1, max_len, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, texts: list[str]) -> torch.Tensor:
        ids = byte_tokens(texts, self.max_len).to(self.pos.device)
        pad = ids == PAD
        h = self.encoder(self.embed(ids) + self.pos, src_key_padding_mask=pad)
        return h.masked_fill(pad[..., None], 0.0)
