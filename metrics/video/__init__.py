"""Video metrics (paper C.2, visual quality and coherence): AQ, IQ, DD, MS, ID.

Importing this package registers every backend; heavy packages (transformers, torchvision's
RAFT) are imported inside `load` / `score` only.
"""

from harmony_bench.metrics.video import aq, dd, identity, iq, ms  # noqa: F401  (registration side effects)
