"""Random-weight files in the official formats, for end-to-end checks without the real weights.

Numbers computed from them are meaningless; every stored number carries the sha256 of the file
it came from, so they can never pass as the paper's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from harmony_bench.weights import sha256_of


def write_random_weights(folder: str | Path, seed: int = 0, only: tuple[str, ...] | None = None) -> dict[str, str]:
    """Write random-weight `syncnet_v2.model` (and `synchformer_state_dict.pth` when av-benchmark,
    which defines Synchformer's architecture, is installed: about 950 MB) into `folder`.

    `only`: restrict to these file names. Returns {file name: sha256}, the shape of a
    `$HARMONY_BENCH_MANIFEST` override table.
    """
    import torch

    from metrics.sync.desync import SYNCHFORMER, installed_synchformer
    from metrics.sync.syncnet import SYNCNET_V2
    from metrics.sync.syncnet_model import SyncNetV2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    models = {SYNCNET_V2.name: SyncNetV2}
    if importlib.util.find_spec("av_bench") is not None:
        models[SYNCHFORMER.name] = installed_synchformer
    written = {}
    for name, build in models.items():
        if only is not None and name not in only:
            continue
        path = folder / name
        torch.save(build().state_dict(), path)
        written[name] = sha256_of(path)
    return written
