"""Regenerate tests/metrics/video/data/amt_s_reference.npz from the AMT authors' code.

    python tests/metrics/video/make_amt_fixture.py /path/to/MCG-NKU/AMT

The reference code is read from a local checkout (not part of this repository; VBench vendors
the same files under vbench/third_party/amt). Both networks get one seeded random state dict
(harmony_bench.metrics.video.testing.seeded_state_dict, strict loads); the fixture keeps the inputs, the
reference's outputs and its parameter names and shapes, and test_amt.py checks the native port
against them. The script also prints the native port's measured agreement.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import torch

from harmony_bench.metrics.video.amt import AMT
from harmony_bench.metrics.video.ms import amt_interpolator, motion_smoothness
from harmony_bench.metrics.video.testing import seeded_state_dict

OUT = Path(__file__).parent / "data" / "amt_s_reference.npz"
SHIFT, WIDTH, N_FRAMES = 3, 136, 5  # a 116 x 136 clip panning 3 px per frame
SUB = (..., slice(None, None, 4), slice(None, None, 4))  # large outputs are kept at every 4th pixel


def reference_modules(root: Path):
    """The authors' Model class and utils/utils.py (imageio is imported there but not needed)."""
    sys.path.insert(0, str(root))
    sys.modules.setdefault("imageio", types.SimpleNamespace(imread=None, imwrite=None))
    spec = importlib.util.spec_from_file_location("amt_s_reference", root / "networks" / "AMT-S.py")
    net = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(net)
    import utils.utils as utils

    return net.Model, utils


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Uniform noise box-blurred twice (7 px) and contrast-stretched: smooth, trackable."""
    x = np.random.default_rng(seed).uniform(0, 255, (h, w, 3))
    for axis in (0, 1, 0, 1):
        x = np.apply_along_axis(lambda v: np.convolve(v, np.ones(7) / 7, mode="same"), axis, x)
    return np.clip((x - x.mean()) * 4 + 128, 0, 255).astype(np.uint8)


def vbench_ms(model, utils, frames: np.ndarray) -> tuple[float, np.ndarray, dict]:
    """VBench's MotionSmoothness.motion_score on CPU (scale 1, divisor 16), one pair at a time."""
    inputs = [utils.img2tensor(f) for f in frames[0::2]]
    padder = utils.InputPadder(inputs[0].shape, 16)
    inputs = padder.pad(*inputs)
    embt = torch.tensor(1 / 2).float().view(1, 1, 1, 1)
    preds, first = [], None
    with torch.no_grad():
        for a, b in zip(inputs[:-1], inputs[1:]):
            out = model(a, b, embt, scale_factor=1.0, eval=False)
            first = first or out
            preds.append(utils.tensor2img(padder.unpad(out["imgt_pred"])))
    diffs = [np.abs(p.astype(np.int16) - o).mean() for p, o in zip(preds, frames[1::2])]
    return (255.0 - float(np.mean(diffs))) / 255.0, np.stack(preds), first


def main(root: Path) -> None:
    torch.set_num_threads(1)
    Model, utils = reference_modules(root)
    ours, ref = AMT().eval(), Model(corr_radius=3, corr_lvls=4, num_flows=3).eval()
    state = seeded_state_dict(ours, seed=0)
    ref.load_state_dict(state, strict=True)
    ours.load_state_dict(state, strict=True)

    base = texture(116, WIDTH + SHIFT * N_FRAMES)
    frames = np.stack([base[:, SHIFT * i : SHIFT * i + WIDTH] for i in range(N_FRAMES)])
    ms, preds, first = vbench_ms(ref, utils, frames)

    # The scale path (VBench on a small GPU): a 2x-upsampled pair at scale 0.5, padded to 32.
    big = base.repeat(2, 0).repeat(2, 1)
    pair = [utils.img2tensor(big[:, d : d + 2 * WIDTH]) for d in (0, 2 * SHIFT)]
    padder = utils.InputPadder(pair[0].shape, 32)
    a, b = padder.pad(*pair)
    with torch.no_grad():
        half = ref(a, b, torch.tensor(0.5).view(1, 1, 1, 1), scale_factor=0.5, eval=True)["imgt_pred"]

    shapes = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    record = dict(
        base=base, ms=np.float64(ms), preds=preds,
        pred0=first["imgt_pred"].numpy(), flow0=first["flow0_pred"][0].numpy()[SUB],  # (1, 3 fields, 2, H, W)
        half_pred=half.numpy()[SUB],
        keys=np.array(list(shapes)), shapes=np.array([",".join(map(str, s)) for s in shapes.values()]),
    )
    np.savez_compressed(OUT, **record)

    # The native port's agreement, printed for the record (test_amt.py asserts it).
    pad0 = utils.InputPadder(frames[0][None].transpose(0, 3, 1, 2).shape, 16)
    x0, x2 = pad0.pad(utils.img2tensor(frames[0]), utils.img2tensor(frames[2]))
    with torch.no_grad():
        mine0, mine_half = ours(x0, x2), ours(a, b, 0.5, 0.5)
    native = motion_smoothness(frames, amt_interpolator(ours, "cpu", 1.0, 16))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    print(f"scale 1:   max |native - reference| = {(mine0 - first['imgt_pred']).abs().max().item():.2e}")
    print(f"scale 0.5: max |native - reference| = {(mine_half - half).abs().max().item():.2e}")
    print(f"MS: reference {ms:.10f}, native {native.values['MS']:.10f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
