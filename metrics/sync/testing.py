"""Random-weight files in the official formats, for end-to-end checks without the real weights.

Numbers computed from them are meaningless; every stored number carries the sha256 of the file
it came from, so they can never pass as the paper's.
"""

from __future__ import annotations

import json
from pathlib import Path

from harmony_bench.weights import sha256_of


def write_random_weights(folder: str | Path, seed: int = 0, only: tuple[str, ...] | None = None,
                         full_synchformer: bool = False) -> dict[str, str]:
    """Write random-weight `syncnet_v2.model` and `synchformer_state_dict.pth` into `folder`.

    The Synchformer file is the tiny test size with a `.arch.json` override beside it, unless
    `full_synchformer` (the official size, about 950 MB, no override); like MMAudio's file it is a
    plain float32 state dict. The SyncNet file copies the 2016 release: PyTorch's legacy (pre-zip)
    serialisation, and no BatchNorm num_batches_tracked entries (added in PyTorch 0.4.1). `only`: restrict to these
    file names. Returns {file name: sha256} (the override file included), the shape of a
    `$HARMONY_BENCH_MANIFEST` override table.
    """
    import torch

    from harmony_bench.metrics.audio.checkpoints import override_path
    from harmony_bench.metrics.sync.desync import SYNCHFORMER
    from harmony_bench.metrics.sync.syncnet import SYNCNET_V2
    from harmony_bench.metrics.sync.syncnet_model import SyncNetV2
    from harmony_bench.metrics.sync.synchformer_model import Synchformer, SynchformerConfig

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = SynchformerConfig() if full_synchformer else SynchformerConfig.tiny()
    models = {SYNCNET_V2.name: SyncNetV2, SYNCHFORMER.name: lambda: Synchformer(config)}
    written = {}
    for name, build in models.items():
        if only is not None and name not in only:
            continue
        path = folder / name
        if name == SYNCNET_V2.name:
            state = {k: v for k, v in build().state_dict().items() if not k.endswith("num_batches_tracked")}
            torch.save(state, path, _use_new_zipfile_serialization=False)
        else:
            torch.save(build().state_dict(), path)
        written[name] = sha256_of(path)
    if SYNCHFORMER.name in written:
        sidecar = override_path(folder / SYNCHFORMER.name)
        if full_synchformer:
            sidecar.unlink(missing_ok=True)
        else:
            sidecar.write_text(json.dumps(config.to_dict()))
            written[sidecar.name] = sha256_of(sidecar)
    return written
