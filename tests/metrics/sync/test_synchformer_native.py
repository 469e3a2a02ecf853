"""The native Synchformer: parameter names and shapes of the official checkpoint, the divided
space-time attention's grouping, and the tiny size's forward shapes."""

import gzip
import json
from pathlib import Path

import pytest
import torch

from harmony_bench.metrics.sync.desync import load_synchformer
from harmony_bench.metrics.sync.synchformer_model import DividedAttention, Synchformer, SynchformerConfig
from harmony_bench.metrics.sync.testing import write_random_weights

# Key -> shape of av-benchmark's Synchformer().state_dict() (commit 050a5cd), dumped once from its code.
OFFICIAL_KEYS = Path(__file__).parent / "data" / "synchformer_keys.json.gz"


def test_full_size_state_dict_matches_av_benchmarks():
    with gzip.open(OFFICIAL_KEYS, "rt") as f:
        official = {k: tuple(v) for k, v in json.load(f).items()}
    with torch.device("meta"):
        ours = {k: tuple(v.shape) for k, v in Synchformer().state_dict().items()}
    assert len(official) == 513
    assert sorted(set(official) ^ set(ours)) == []
    assert {k: (official[k], ours[k]) for k in official if official[k] != ours[k]} == {}


def test_tiny_forward_shapes():
    torch.manual_seed(0)
    model = Synchformer(SynchformerConfig.tiny()).eval()
    with torch.inference_mode():
        v = model.extract_vfeats(torch.rand(1, 2, 16, 3, 224, 224) * 2 - 1)
        a = model.extract_afeats(torch.randn(1, 2, 1, 128, 66))
        logits = model.compare_v_a(torch.randn(2, 14, 8, 32), torch.randn(2, 14, 6, 32))
    assert v.shape == (1, 2, 8, 32) and a.shape == (1, 2, 6, 32)
    assert logits.shape == (2, 21) and torch.isfinite(logits).all()


@pytest.mark.parametrize("over_time", [True, False])
def test_divided_attention_mixes_only_within_a_group(over_time):
    """Time attention mixes the 8 time steps of one patch; space attention the 196 patches of one
    time step. Changing one token moves its group and the CLS token, nothing else."""
    torch.manual_seed(0)
    attn = DividedAttention(8, 2).eval()
    x = torch.randn(1, 1 + 8 * 196, 8)
    y = x.clone()
    t, p = 3, 50
    y[0, 1 + t * 196 + p] += 1.0
    changed = (attn(x, over_time) - attn(y, over_time)).abs().amax(-1)[0] > 1e-6
    index = torch.arange(8 * 196)
    group = (index % 196 == p) if over_time else (index // 196 == t)
    assert changed[0]
    assert torch.equal(changed[1:], group)


def test_random_tiny_file_loads_with_its_override(tmp_path):
    written = write_random_weights(tmp_path, only=("synchformer_state_dict.pth",))
    assert set(written) == {"synchformer_state_dict.pth", "synchformer_state_dict.pth.arch.json"}
    model, override_id = load_synchformer(tmp_path / "synchformer_state_dict.pth")
    assert model.cfg == SynchformerConfig.tiny()
    assert override_id == f"synchformer_state_dict.pth.arch.json={written['synchformer_state_dict.pth.arch.json']}"


def test_a_mismatched_architecture_is_refused(tmp_path):
    write_random_weights(tmp_path, only=("synchformer_state_dict.pth",))
    deeper = {**SynchformerConfig.tiny().to_dict(), "sync_depth": 2}
    (tmp_path / "synchformer_state_dict.pth.arch.json").write_text(json.dumps(deeper))
    with pytest.raises(RuntimeError, match="Missing key"):
        load_synchformer(tmp_path / "synchformer_state_dict.pth")


@pytest.mark.slow
def test_outputs_match_av_benchmark_on_a_seeded_checkpoint():
    """data/synchformer_reference.npz holds av-benchmark's own outputs (commit 050a5cd,
    av_bench/synchformer/synchformer.py, written by make_synchformer_fixture.py) for the three
    stages DeSync uses, with the seeded full-size state dict loaded strictly and seeded inputs.
    Measured when written (CPU, float32): max |native - reference| 3.3e-7 (video features),
    4.2e-7 (audio features), 2.5e-7 (logits)."""
    import numpy as np

    from harmony_bench.metrics.video.testing import seeded_state_dict
    from tests.metrics.sync.make_synchformer_fixture import outputs, seeded_inputs

    expected = dict(np.load(Path(__file__).parent / "data" / "synchformer_reference.npz"))
    model = Synchformer().eval()
    model.load_state_dict(seeded_state_dict(model, seed=0), strict=True)
    got = outputs(model, seeded_inputs())
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key].shape == expected[key].shape
        assert np.abs(got[key] - expected[key]).max() < 1e-5, key
    assert np.abs(expected["logits"]).std() > 0.05  # distinct logits: agreement is not trivial
    assert got["logits"].argmax() == expected["logits"].argmax()
