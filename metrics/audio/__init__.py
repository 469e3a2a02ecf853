"""Audio metrics: AudioBox-Aesthetics (PQ, PC, CE, CU), WER / CER (Whisper), IB-A and IB (ImageBind).

Importing this package registers the metrics; heavy packages load only in `setup()` / `score()`.
"""

from harmony_bench.metrics.audio import audiobox, imagebind, wer  # noqa: F401  (registration)
