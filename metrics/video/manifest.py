"""The weight files of the official video backends: name in the weights folder, source, licence,
and how each is verified (harmony_bench.weights).

Pinned sha256s come from the publishers' git-LFS pointers on Hugging Face (each at the revision
named in its source URL); for pyiqa's MUSIQ files from the pointer of pyiqa's own Hugging Face
mirror of its release assets or a published hash of the release file, each agreeing with the
hash prefix the file name carries. torchvision publishes no
full hash for RAFT, only the sha256 prefix in the file name: that prefix is checked as
torchvision's `check_hash` does, then the file's size and strict keys and shapes.
"""

from __future__ import annotations

from pathlib import Path

from harmony_bench.weights import HubFile, WeightFile


def _raft_format(path: Path) -> None:
    from harmony_bench.metrics.video.flow import load_raft

    load_raft(path)  # strict keys and shapes of torchvision's raft_large; CheckpointError otherwise


RAFT_THINGS = WeightFile(
    name="raft/raft_large_C_T_V1-22a6c225.pth",
    sha256=None,
    source="https://download.pytorch.org/models/raft_large_C_T_V1-22a6c225.pth",
    licence="BSD-3-Clause (princeton-vl/RAFT)",
    note="torchvision's port of the RAFT authors' raft-things.pth (FlyingChairs + FlyingThings3D), the "
         "checkpoint VBench's dynamic degree loads; 5,257,536 float32 parameters in a plain state dict.",
    hash_prefix="22a6c225",
    size_range=(20_900_000, 21_300_000),  # 5,257,536 float32 values plus the zip container
    url="https://download.pytorch.org/models/raft_large_C_T_V1-22a6c225.pth",
    check_format=_raft_format,
)

_PYIQA_HF = "huggingface.co/chaofengc/IQA-PyTorch-Weights (git-LFS pointer, revision e7c3c06)"
MUSIQ_SPAQ = WeightFile(
    name="musiq/musiq_spaq_ckpt-358bb6af.pth",
    sha256="358bb6af275e28ea56821d44fb55c6cb83645db11f394d3ad65b2d149965ab50",
    source="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth",
    licence="Apache-2.0 (google-research MUSIQ weights, converted by pyiqa)",
    note="pyiqa's PyTorch conversion of the official MUSIQ SPAQ checkpoint; VBench imaging_quality's file.",
    hash_source="an independent user's hash of the release file (VBench imaging-quality runs), which "
                "starts with the 358bb6af its name carries",
    hash_prefix="358bb6af",
    url="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth",
    size_estimate=110_000_000,  # no published size; the KonIQ file of the same architecture is 108,610,983
)

MUSIQ_KONIQ = WeightFile(
    name="musiq/musiq_koniq_ckpt-e95806b9.pth",
    sha256="e95806b9eae5f3814c410f574ba8e552362bd5bc63d758ed5b97860f5d6185aa",
    source="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_koniq_ckpt-e95806b9.pth",
    licence="Apache-2.0 (google-research MUSIQ weights, converted by pyiqa)",
    note="pyiqa's default `musiq` metric checkpoint (KonIQ-10k), the one Verse-Bench uses.",
    hash_source=_PYIQA_HF,
    hash_prefix="e95806b9",
    url="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_koniq_ckpt-e95806b9.pth",
    size_bytes=108_610_983,  # as recorded beside the same sha256 by independent projects
)


def hf_folder(folder: str, repo: str, revision: str, pins: dict[str, tuple[str, int]], licence: str,
              note: str) -> tuple[WeightFile, WeightFile]:
    """config.json + model.safetensors of a Hugging Face model repository at `revision`, kept in
    `folder`; pins: {file: (sha256, bytes)}."""
    return tuple(WeightFile(name=f"{folder}/{file}", sha256=pins[file][0], size_bytes=pins[file][1],
                            licence=licence, note=note,
                            source=f"https://huggingface.co/{repo}/resolve/{revision}/{file}",
                            hub=HubFile(repo, revision, file),
                            hash_source=f"huggingface.co/{repo} at revision {revision[:7]}: "
                                        + ("its git-LFS oid" if file.endswith(".safetensors") else "the file's bytes")
                                        + ", recorded alike by several independent projects")
                 for file in ("config.json", "model.safetensors"))


SIGLIP_DIR = "siglip-so400m-patch14-384"
SIGLIP_CONFIG, SIGLIP_WEIGHTS = hf_folder(
    SIGLIP_DIR, "google/siglip-so400m-patch14-384", "9fdffc58afc957d1a03a25b10dba0329ab15c2a3",
    {"config.json": ("adc04928d8fd19a61822584fe0cf2e813e5ebac17f3e49fb1ea096860ae6457b", 576),
     "model.safetensors": ("ea2abad2b7f8a9c1aa5e49a244d5d57ffa71c56f720c94bc5d240ef4d6e1d94a", 3_511_950_624)},
    "Apache-2.0", "The full SigLIP checkpoint (vision and text towers); only the vision tower is used.")

AESTHETIC_HEAD = WeightFile(
    name="aesthetic-predictor-v2-5/aesthetic_predictor_v2_5.pth",
    sha256="a6caf256b3dc434273c98dcb12f6bf17c5d4fc647d8df11f038386923dd06220",
    size_bytes=2_644_834,
    source="https://github.com/discus0434/aesthetic-predictor-v2-5/raw/main/models/aesthetic_predictor_v2_5.pth",
    licence="AGPL-3.0 (discus0434/aesthetic-predictor-v2-5)",
    note="State dict of the MLP head only: 10 bfloat16 tensors, keys scoring_head.{0,2,4,6,8}.{weight,bias}; "
         "loads with weights_only=True.",
    url="https://github.com/discus0434/aesthetic-predictor-v2-5/raw/main/models/aesthetic_predictor_v2_5.pth",
    hash_source="the file the publisher commits in discus0434/aesthetic-predictor-v2-5 models/ (measured "
                "when it was loaded for issue 13; AGPL-3.0, so it is not committed here)",
)

DINOV3_DIR = "dinov3-vitl16-pretrain-lvd1689m"
DINOV3_CONFIG, DINOV3_WEIGHTS = hf_folder(
    DINOV3_DIR, "facebook/dinov3-vitl16-pretrain-lvd1689m", "ea8dc2863c51be0a264bab82070e3e8836b02d51",
    {"config.json": ("135ecd23e34a70b6fbed8b083fdecb319b7e3a54e3d849258bbe4ddcf1783bb5", 745),
     "model.safetensors": ("dcb2e45127cccbf1601e5f42fef165eea275c8e5213197e8dcf3f48822718179", 1_212_559_808)},
    "DINOv3 License (gated: accept Meta's terms on the model page first)",
    "DINOv3 ViT-L/16 distilled from the 7B teacher on LVD-1689M, Hugging Face transformers layout.")

AMT_S = WeightFile(
    name="amt/amt-s.pth",
    sha256="07e7e03405c213fe4405678db9b42d05671e48c56faf6a441b99bb0047d3cf77",
    source="https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",
    licence="CC BY-NC 4.0 (MCG-NKU/AMT; the Hugging Face repository says cc-by-nc-sa-4.0)",
    size_bytes=12038359,
    hub=HubFile("lalala125/AMT", "main", "amt-s.pth"),  # "main": the file's only commit; the sha256 pins it
    note="The AMT authors' AMT-S checkpoint (Vimeo90K), the file VBench's motion smoothness downloads.",
    hash_source="git-LFS pointer, huggingface.co/lalala125/AMT commit 4af6ffb 'Upload amt-s & amt-l.' "
                "(the file's only commit)",
)
