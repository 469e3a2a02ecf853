"""The native AMT-S against the authors' code, and VBench's motion-smoothness pipeline around it.

data/amt_s_reference.npz was written by make_amt_fixture.py from MCG-NKU/AMT (commit 70f988f,
the code VBench vendors) with one seeded random checkpoint loaded strictly into both networks.
Measured when it was written (CPU, float32): max |native - reference| = 0 at scale 1 and at
scale 0.5, and the VBench pipeline's MS agreed to 2e-7 (float noise flipping the uint8
truncation of 4 of 94656 values). With torch 2.14.1 the native outputs differ from the stored
ones by up to 3.1e-5 (scale 1) and 1.2e-5 (scale 0.5): summation order, well under one uint8
level, so the tolerances are 1e-4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harmony_bench.metrics.video.amt import AMT, load_amt
from harmony_bench.metrics.video.checkpoints import CheckpointError
from harmony_bench.metrics.video.ms import amt_interpolator, amt_padding, motion_smoothness, vbench_scale
from harmony_bench.metrics.video.testing import seeded_state_dict

FIXTURE = Path(__file__).parent / "data" / "amt_s_reference.npz"
SHIFT, WIDTH, N_FRAMES = 3, 136, 5  # as make_amt_fixture.py
SUB = (..., slice(None, None, 4), slice(None, None, 4))


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(FIXTURE))


@pytest.fixture(scope="module")
def seeded():
    torch.manual_seed(0)
    model = AMT().eval()
    model.load_state_dict(seeded_state_dict(model, seed=0), strict=True)
    return model


def as_input(frame: np.ndarray, divisor: int) -> torch.Tensor:
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0
    return torch.nn.functional.pad(x, amt_padding(*frame.shape[:2], divisor), mode="replicate")


def clip_frames(base: np.ndarray) -> np.ndarray:
    return np.stack([base[:, SHIFT * i : SHIFT * i + WIDTH] for i in range(N_FRAMES)])


def test_parameter_names_and_shapes_match_the_authors_code(ref):
    ours = {k: ",".join(map(str, v.shape)) for k, v in AMT().state_dict().items()}
    assert len(ours) == 213
    assert ours == dict(zip(ref["keys"].tolist(), ref["shapes"].tolist()))


def test_fixture_is_a_real_test(ref):
    """The reference outputs are neither all clamped nor flow-free, so agreement means something."""
    assert 0.2 < ((ref["pred0"] > 0) & (ref["pred0"] < 1)).mean()
    assert np.abs(ref["flow0"]).mean() > 1.0


def test_seeded_checkpoint_reproduces_the_reference_at_scale_1(ref, seeded):
    frames = clip_frames(ref["base"])
    a, b = as_input(frames[0], 16), as_input(frames[2], 16)
    with torch.inference_mode():
        pred = seeded(a, b)
        mean = seeded._centre(a, b)
        fields = seeded.fields(a - mean, b - mean, torch.full((1, 1, 1, 1), 0.5))
    # 3.1e-5 at most (0.06% of values above 1e-5) with torch 2.14.1 against the fixture's torch:
    # float summation order through the correlation pyramid, far below one uint8 level (3.9e-3)
    assert np.abs(pred.numpy() - ref["pred0"]).max() < 1e-4
    flow0 = fields.flow0.reshape(1, 3, 2, *a.shape[2:]).numpy()[SUB]
    assert np.abs(flow0 - ref["flow0"]).max() < 1e-4


def test_seeded_checkpoint_reproduces_the_reference_at_scale_half(ref, seeded):
    big = ref["base"].repeat(2, 0).repeat(2, 1)
    a, b = (as_input(big[:, d : d + 2 * WIDTH], 32) for d in (0, 2 * SHIFT))
    with torch.inference_mode():
        pred = seeded(a, b, 0.5, 0.5)
    assert np.abs(pred.numpy()[SUB] - ref["half_pred"]).max() < 1e-4  # 1.2e-5 with torch 2.14.1


def test_vbench_pipeline_reproduces_the_reference_frames_and_ms(ref, seeded):
    frames = clip_frames(ref["base"])
    interpolate = amt_interpolator(seeded, "cpu", 1.0, 16)
    preds = interpolate(frames[0:3:2], frames[2:5:2])
    diff = preds.astype(int) - ref["preds"]
    assert np.abs(diff).max() <= 1 and (diff != 0).mean() < 1e-3  # float noise at truncation edges only
    score = motion_smoothness(frames, interpolate)
    assert score.details["pairs"] == 2
    assert score.values["MS"] == pytest.approx(float(ref["ms"]), abs=1e-6)


@pytest.mark.parametrize("h, w, memory, expected", [
    (1080, 1920, None, (1.0, 16)),  # CPU: never rescaled
    (1080, 1920, 80 * 1024**3, (1.0, 16)),
    (2160, 3840, 24 * 1024**3, (0.5, 32)),  # 4K on 24 GiB: VBench halves the working resolution
    (2160, 3840, 8 * 1024**3, (16 / 45, 45)),
])
def test_vbench_scale_rule(h, w, memory, expected):
    scale, divisor = vbench_scale(h, w, memory)
    assert scale == pytest.approx(expected[0], rel=1e-12) and divisor == expected[1]


def test_padding_splits_as_input_padder_and_lifts_small_frames():
    assert amt_padding(116, 136, 16) == [4, 4, 6, 6]
    assert amt_padding(128, 160, 16) == [0, 0, 0, 0]
    assert amt_padding(64, 200, 16) == [4, 4, 32, 32]  # height lifted to 128, width to a multiple of 16
    assert amt_padding(250, 260, 32) == [14, 14, 3, 3]


def test_zero_weights_interpolate_linearly():
    """All-zero weights leave no flow, masks at sigmoid(0) = 1/2 and no residual: the output is
    the mean of the two frames, which pins the blend, the mean bookkeeping and the clamp."""
    model = AMT().eval()
    model.load_state_dict({k: torch.zeros_like(v) for k, v in model.state_dict().items()})
    a, b = torch.rand(1, 3, 128, 128), torch.rand(1, 3, 128, 128)
    with torch.inference_mode():
        assert torch.allclose(model(a, b), (a + b) / 2, atol=1e-5)


def test_checkpoint_without_state_dict_entry_is_refused(tmp_path):
    path = tmp_path / "amt-s.pth"
    torch.save(AMT().state_dict(), path)  # bare weights, not the authors' {"state_dict": ...}
    with pytest.raises(CheckpointError, match="amt-s.pth: no 'state_dict'"):
        load_amt(path)


def test_loader_accepts_the_amt_trainers_whole_container(tmp_path):
    """MCG-NKU/AMT trainers/base_trainer.py saves OrderedDict(epoch=int, state_dict=..., optim=...);
    the published amt-s.pth keeps the weights (its 12.0 MB is their float32 size) and may keep the
    rest. Every such entry is plain data, so the file loads with weights_only=True."""
    from collections import OrderedDict

    model = AMT()
    optim = torch.optim.AdamW(model.parameters(), lr=2e-4)
    for p in model.parameters():  # one step fills the optimiser state (exp_avg, exp_avg_sq, step)
        p.grad = torch.full_like(p, 1e-3)
    optim.step()
    path = tmp_path / "amt-s.pth"
    torch.save(OrderedDict(epoch=299, state_dict=model.state_dict(), optim=optim.state_dict()), path)
    loaded = load_amt(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
