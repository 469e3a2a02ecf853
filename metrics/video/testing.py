"""Random-weight files in the official formats, for tests and end-to-end dry runs.

`write_random_weights(folder)` fills a weights folder with every file the official video backends
need: RAFT and AMT-S at their real (fixed) sizes, the others as tiny configurations in the same
file types and key names (the loaders read sizes from the config or checkpoint). Each file copies
its publisher's container, read from the saving code: torchvision's RAFT and pyiqa's MUSIQ are
bare float32 state dicts; the aesthetic head is a bare state dict of 10 bfloat16 tensors (as the
committed aesthetic_predictor_v2_5.pth); AMT-S is the AMT trainer's OrderedDict(epoch=...,
state_dict=...) without the optimiser (MCG-NKU/AMT trainers/base_trainer.py `save`; the 12.0 MB
published file is the size of the float32 weights alone); SigLIP and DINOv3 are transformers'
save_pretrained folders. Numbers computed with these
files are meaningless; the harness stamps the loaded hashes on them, so they never pass as real.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from harmony_bench.weights import sha256_of
from harmony_bench.metrics.video import manifest

TINY_VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
AMT_EPOCH = 299  # an int beside the weights, as the AMT trainer saves its last epoch


def _raft(path: Path) -> None:
    import torch
    from torchvision.models.optical_flow import raft_large

    torch.save(raft_large(weights=None, progress=False).state_dict(), path)


def _musiq(path: Path) -> None:
    import torch

    from harmony_bench.metrics.video.musiq import Musiq, MusiqConfig

    torch.save(Musiq(MusiqConfig(hidden=48, mlp_dim=96, layers=2)).state_dict(), path)


def _siglip(folder: Path) -> None:
    from transformers import SiglipConfig, SiglipModel

    cfg = SiglipConfig(text_config=dict(TINY_VIT, vocab_size=64, max_position_embeddings=16),
                       vision_config=dict(TINY_VIT, image_size=32, patch_size=8))
    SiglipModel(cfg).save_pretrained(folder, safe_serialization=True)


def _aesthetic_head(path: Path) -> None:
    from collections import OrderedDict

    import torch

    from harmony_bench.metrics.video.aq import HEAD_LINEAR_INDICES

    sizes = [TINY_VIT["hidden_size"], 1024, 128, 64, 16, 1]  # the reference head's widths
    state = OrderedDict()  # as module.state_dict() gives; the publisher's loader asserts the type
    for i, (d_in, d_out) in zip(HEAD_LINEAR_INDICES, zip(sizes, sizes[1:])):
        layer = torch.nn.Linear(d_in, d_out)
        state[f"scoring_head.{i}.weight"] = layer.weight.data.to(torch.bfloat16)
        state[f"scoring_head.{i}.bias"] = layer.bias.data.to(torch.bfloat16)
    torch.save(state, path)


def _amt(path: Path) -> None:
    import torch

    from harmony_bench.metrics.video.amt import AMT

    torch.save(OrderedDict(epoch=AMT_EPOCH, state_dict=seeded_state_dict(AMT())), path)


def _dinov3(folder: Path) -> None:
    from transformers import DINOv3ViTConfig, DINOv3ViTModel

    DINOv3ViTModel(DINOv3ViTConfig(**TINY_VIT, image_size=64, patch_size=16)).save_pretrained(
        folder, safe_serialization=True)


def seeded_state_dict(module, seed: int = 0) -> dict:
    """A state dict for `module` drawn from a seeded numpy generator, identical on every
    machine and torch version (torch's initialisers are not promised to be): weights
    N(0, 1 / fan_in), biases N(0, 0.1^2), 1-D weights (PReLU slopes) 0.25 + N(0, 0.05^2)."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    state = {}
    for name, ref in module.state_dict().items():
        shape = tuple(ref.shape)
        if name.endswith("bias"):
            x = rng.normal(0.0, 0.1, shape)
        elif len(shape) == 1:
            x = 0.25 + rng.normal(0.0, 0.05, shape)
        else:
            x = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[1:])), shape)
        state[name] = torch.from_numpy(x.astype(np.float32))
    return state


def write_random_weights(folder: str | Path, seed: int = 0) -> dict[str, str]:
    """Write every official video weight file under `folder`; return {file name: sha256}, ready
    to be written as the JSON that `$HARMONY_BENCH_MANIFEST` points to."""
    import torch

    folder = Path(folder)
    files = {manifest.RAFT_THINGS: _raft, manifest.MUSIQ_SPAQ: _musiq, manifest.MUSIQ_KONIQ: _musiq,
             manifest.AESTHETIC_HEAD: _aesthetic_head, manifest.AMT_S: _amt}
    folders = {manifest.SIGLIP_DIR: _siglip, manifest.DINOV3_DIR: _dinov3}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for wf, write in files.items():
            (folder / wf.name).parent.mkdir(parents=True, exist_ok=True)
            write(folder / wf.name)
        for sub, write in folders.items():
            write(folder / sub)
    names = [wf.name for wf in files] + [wf.name for wf in (manifest.SIGLIP_CONFIG, manifest.SIGLIP_WEIGHTS,
                                                             manifest.DINOV3_CONFIG, manifest.DINOV3_WEIGHTS)]
    return {name: sha256_of(folder / name) for name in names}
