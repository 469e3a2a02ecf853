"""Audio-visual synchronisation metrics: Sync-C/Sync-D (SyncNet v2), DeSync (Synchformer), and the
offline variants LipSync (face mesh) and AVOffset (onsets vs motion) under their own families."""

from harmony_bench.metrics.sync import avoffset, desync, lipsync, syncnet  # noqa: F401  (registration)
