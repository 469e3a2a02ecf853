"""Regenerate tests/metrics/sync/data/synchformer_reference.npz from av-benchmark's Synchformer.

    python tests/metrics/sync/make_synchformer_fixture.py /path/to/hkchengrex/av-benchmark

The reference code is read from a local checkout (not part of this repository). av-benchmark
imports omegaconf only to read its Motionformer yaml; where omegaconf is not installed a minimal
stand-in (yaml + attribute access) is used. Both networks get one seeded random state dict at the
official size (harmony_bench.metrics.video.testing.seeded_state_dict over the native module's names, strict
loads); the fixture keeps the reference's outputs of the three stages DeSync uses on seeded
inputs: extract_vfeats on one 16-frame segment, extract_afeats on one 0.64 s mel segment, and
compare_v_a on 14 x 8 video and 14 x 6 audio features. test_synchformer_native.py checks the
native network against them; the script also prints the measured agreement.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import torch

from harmony_bench.metrics.sync.synchformer_model import Synchformer
from harmony_bench.metrics.video.testing import seeded_state_dict

OUT = Path(__file__).parent / "data" / "synchformer_reference.npz"


def seeded_inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {"video": torch.rand(1, 1, 16, 3, 224, 224, generator=g) * 2 - 1,  # av-benchmark's [-1, 1] frames
            "audio": torch.randn(1, 1, 1, 128, 66, generator=g),  # a normalised log-mel segment
            "vfeat": torch.randn(1, 14, 8, 768, generator=g), "afeat": torch.randn(1, 14, 6, 768, generator=g)}


def outputs(model, x: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        return {"video_out": model.extract_vfeats(x["video"]).numpy(),
                "audio_out": model.extract_afeats(x["audio"]).numpy(),
                "logits": model.compare_v_a(x["vfeat"], x["afeat"]).numpy()}


class _Config(dict):
    """Enough of an OmegaConf DictConfig for av-benchmark's Motionformer: attribute get and set."""

    def __getattr__(self, name):
        return self[name]

    def __setattr__(self, name, value):
        self[name] = value


def _omegaconf_stand_in() -> None:
    import yaml

    def wrap(x):
        return _Config({k: wrap(v) for k, v in x.items()}) if isinstance(x, dict) else x

    module = types.ModuleType("omegaconf")
    module.OmegaConf = types.SimpleNamespace(load=lambda path: wrap(yaml.safe_load(Path(path).read_text())))
    sys.modules["omegaconf"] = module


def main(root: Path) -> None:
    torch.set_num_threads(2)
    sys.path.insert(0, str(root))
    try:
        import omegaconf  # noqa: F401
    except ImportError:
        _omegaconf_stand_in()
    from av_bench.synchformer.synchformer import Synchformer as Reference

    ours, ref = Synchformer().eval(), Reference().eval()
    state = seeded_state_dict(ours, seed=0)
    ref.load_state_dict(state, strict=True)
    ours.load_state_dict(state, strict=True)
    x = seeded_inputs()
    expected, got = outputs(ref, x), outputs(ours, x)
    np.savez_compressed(OUT, **expected)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    for k in expected:
        print(f"{k}: max |native - reference| = {np.abs(got[k] - expected[k]).max():.2e} "
              f"(reference values up to {np.abs(expected[k]).max():.3g}); "
              f"argmax equal: {bool((got[k].argmax(-1) == expected[k].argmax(-1)).all())}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
