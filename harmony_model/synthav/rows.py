"""The rows of the Table 3 ablation and how their results are filed: shared by the runner
(`ablation`) and the table (`report`), which therefore do not import each other's definitions."""

from __future__ import annotations

DEFAULT_TEST_LEVEL = "hard"  # SynthAV level of the held-out test clips unless a budget says otherwise

# trained variant -> config switches
TRAINED = {
    "baseline": {"mode": "global", "rope_align": False, "global_style": False, "cts": False},
    "gldi": {"mode": "gldi", "rope_align": False, "global_style": True, "cts": False},
    "rope": {"mode": "gldi", "rope_align": True, "global_style": True, "cts": False},
    "cts": {"mode": "gldi", "rope_align": True, "global_style": True, "cts": True},
}
# table row -> (trained variant, guidance, guidance scales)
ROWS = {
    "baseline": ("baseline", "none", {}),
    "+GLDI": ("gldi", "none", {}),
    "+RoPE": ("rope", "none", {}),
    "+CTS": ("cts", "none", {}),
    "+SyncCFG": ("cts", "sync", {"s_v": 3.0, "s_a": 2.0}),
    "+CTS, standard CFG": ("cts", "text", {"s_text": 3.0}),
}


def same_test(measured: dict, budget: dict) -> bool:
    """Whether a result measured under the budget dict `measured` counts for `budget`: the same
    test clips and sampling steps (neither is part of the model's config). Results stored before
    `test_level` existed were measured on the hard mix."""
    defaults = {"test_level": DEFAULT_TEST_LEVEL}
    return all(measured.get(k, defaults.get(k)) == budget.get(k, defaults.get(k))
               for k in ("test_clips", "sample_steps", "test_level"))


def slug(row: str) -> str:
    """The file-name stem of a row's results (`<slug>-seed<N>.json`)."""
    return "".join(ch if ch.isalnum() else "-" for ch in row.lower()).strip("-").replace("--", "-")
