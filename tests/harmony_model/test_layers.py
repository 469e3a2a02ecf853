import math

import pytest
import torch

from harmony_model.layers import apply_rope, rope_angles


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rope_rotates_each_interleaved_pair_by_its_angle(dtype):
    """Pair (x1, x2) of channel i at position p turns by p / 10000^(2i/D): checked against the
    rotation written out, and a quarter turn maps (1, 0) to (0, 1)."""
    torch.manual_seed(0)
    x = torch.randn(2, 7, 3, 8).to(dtype)
    positions = torch.arange(7).double() * 0.5
    cos, sin = rope_angles(positions, 8)
    cos, sin = cos.float()[None, :, None], sin.float()[None, :, None]
    out = apply_rope(x, cos, sin)
    assert out.dtype == dtype
    x1, x2 = x.float()[..., 0::2], x.float()[..., 1::2]
    c, s = cos[..., 0::2], sin[..., 0::2]
    expected = torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], -1).flatten(-2).to(dtype)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)  # the complex product may fuse a multiply-add

    unit = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    cos, sin = rope_angles(torch.tensor([math.pi / 2]), 2)
    torch.testing.assert_close(apply_rope(unit, cos.float()[None, :, None], sin.float()[None, :, None]),
                               torch.tensor([0.0, 1.0]).view(1, 1, 1, 2), atol=1e-6, rtol=0)
