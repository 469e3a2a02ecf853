"""The reference Harmony model (dual-branch DiT, GLDI, Cross-Task Synergy, SyncCFG).

Entry points: `harmony_model.config` (configurations), `harmony_model.pipeline.HarmonyPipeline`
(sampling), `python -m harmony_model.train` (training); see harmony_model/README.md.
"""

from pathlib import Path

# The tiny SynthAV-trained checkpoint that `--model harmony` loads (package data).
SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "tiny"
