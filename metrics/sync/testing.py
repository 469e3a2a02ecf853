"""Random-weight files in the official formats, for end-to-end checks without the real weights.

Numbers computed from them are meaningless; every stored number carries the sha256 of the file
it came from, so they can never pass as the paper's.
"""

from __future__ import annotations

import json
from pathlib import Path

from harmony_bench.weights import sha256_of


def seeded_s3fd_state(seed: int = 0) -> dict:
    """An S3FD state dict with the keys and shapes of `sfd_face.pth`, drawn from numpy's generator
    (so the same on every torch version): He-scaled convolutions, small biases, the L2 norms at
    their initial scales (10, 8, 5). The score heads are drawn 3 times wider so that, on a random
    picture, some priors pass the 0.9 threshold and NMS has work to do."""
    import numpy as np
    import torch

    from harmony_bench.metrics.sync.s3fd import S3FDNet

    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):  # building the module draws torch's generator: leave it as it was
        shapes = S3FDNet().state_dict()
    state = {}
    for name, ref in shapes.items():
        if name.startswith("L2Norm"):
            state[name] = ref.clone()
        elif name.endswith("bias"):
            state[name] = torch.from_numpy(rng.normal(0.0, 0.01, ref.shape).astype(np.float32))
        else:
            scale = np.sqrt(2.0 / np.prod(ref.shape[1:])) * (3.0 if name.startswith("conf.") else 1.0)
            state[name] = torch.from_numpy(rng.normal(0.0, scale, ref.shape).astype(np.float32))
    return state


def write_random_weights(folder: str | Path, seed: int = 0, only: tuple[str, ...] | None = None,
                         full_synchformer: bool = False) -> dict[str, str]:
    """Write random-weight `syncnet_v2.model`, `sfd_face.pth` and `synchformer_state_dict.pth` into `folder`.

    The Synchformer file is the tiny test size with a `.arch.json` override beside it, unless
    `full_synchformer` (the official size, about 950 MB, no override); like MMAudio's file it is a
    plain float32 state dict. The SyncNet file copies the 2016 release: PyTorch's legacy (pre-zip)
    serialisation, and no BatchNorm num_batches_tracked entries (added in PyTorch 0.4.1). `only`: restrict to these
    file names. Returns {file name: sha256} (the override file included), the shape of a
    `$HARMONY_BENCH_MANIFEST` override table. `sfd_face.pth` holds `seeded_s3fd_state(seed)`,
    saved as a plain state dict.
    """
    import torch

    from harmony_bench.metrics.audio.checkpoints import override_path
    from harmony_bench.metrics.sync.desync import SYNCHFORMER
    from harmony_bench.metrics.sync.syncnet import SFD_FACE, SYNCNET_V2
    from harmony_bench.metrics.sync.syncnet_model import SyncNetV2
    from harmony_bench.metrics.sync.synchformer_model import Synchformer, SynchformerConfig

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = SynchformerConfig() if full_synchformer else SynchformerConfig.tiny()
    models = {SYNCNET_V2.name: SyncNetV2, SFD_FACE.name: None, SYNCHFORMER.name: lambda: Synchformer(config)}
    written = {}
    for name, build in models.items():
        if only is not None and name not in only:
            continue
        path = folder / name
        if name == SYNCNET_V2.name:
            state = {k: v for k, v in build().state_dict().items() if not k.endswith("num_batches_tracked")}
            torch.save(state, path, _use_new_zipfile_serialization=False)
        elif name == SFD_FACE.name:
            torch.save(seeded_s3fd_state(seed), path)
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
