"""The reference Harmony model (dual-branch DiT, GLDI, Cross-Task Synergy, SyncCFG).

Entry points: `harmony_model.config` (configurations), `harmony_model.pipeline.HarmonyPipeline`
(sampling), `python -m harmony_model.train` (training); see harmony_model/README.md.
"""
