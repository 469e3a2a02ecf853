"""The weight files of the official video backends: name in the weights folder, source, licence.

AMT-S's sha256 is pinned from its Hugging Face git-LFS pointer. For the others no public sha256
could be pinned (the hosts publish none we could read offline); `sha256=None` makes the harness
record the hash it actually loaded with every number. torchvision and pyiqa name their files
with a hash prefix, kept in each note so a user can check by hand.
"""

from __future__ import annotations

from harmony_bench.weights import WeightFile

RAFT_THINGS = WeightFile(
    name="raft/raft_large_C_T_V1-22a6c225.pth",
    sha256=None,
    source="https://download.pytorch.org/models/raft_large_C_T_V1-22a6c225.pth",
    licence="BSD-3-Clause (princeton-vl/RAFT)",
    size_bytes=None,
    note="torchvision's port of the RAFT authors' raft-things.pth (FlyingChairs + FlyingThings3D), the "
         "checkpoint VBench's dynamic degree loads; torchvision file names end in the sha256's first "
         "8 hex digits (22a6c225).",
)

MUSIQ_SPAQ = WeightFile(
    name="musiq/musiq_spaq_ckpt-358bb6af.pth",
    sha256=None,
    source="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth",
    licence="Apache-2.0 (google-research MUSIQ weights, converted by pyiqa)",
    note="pyiqa's PyTorch conversion of the official MUSIQ SPAQ checkpoint; VBench imaging_quality's file.",
)

MUSIQ_KONIQ = WeightFile(
    name="musiq/musiq_koniq_ckpt-e95806b9.pth",
    sha256=None,
    source="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_koniq_ckpt-e95806b9.pth",
    licence="Apache-2.0 (google-research MUSIQ weights, converted by pyiqa)",
    note="pyiqa's default `musiq` metric checkpoint (KonIQ-10k), the one Verse-Bench uses.",
)


def hf_folder(folder: str, repo: str, licence: str, note: str) -> tuple[WeightFile, WeightFile]:
    """config.json + model.safetensors of a Hugging Face model repository, kept in `folder`."""
    return tuple(WeightFile(name=f"{folder}/{file}", sha256=None, licence=licence, note=note,
                            source=f"https://huggingface.co/{repo}/resolve/main/{file}")
                 for file in ("config.json", "model.safetensors"))


SIGLIP_DIR = "siglip-so400m-patch14-384"
SIGLIP_CONFIG, SIGLIP_WEIGHTS = hf_folder(
    SIGLIP_DIR, "google/siglip-so400m-patch14-384", "Apache-2.0",
    "The full SigLIP checkpoint (vision and text towers); only the vision tower is used.")

AESTHETIC_HEAD = WeightFile(
    name="aesthetic-predictor-v2-5/aesthetic_predictor_v2_5.pth",
    sha256=None,
    source="https://github.com/discus0434/aesthetic-predictor-v2-5/raw/main/models/aesthetic_predictor_v2_5.pth",
    licence="AGPL-3.0 (discus0434/aesthetic-predictor-v2-5)",
    note="State dict of the MLP head only (keys scoring_head.{0,2,4,6,8}.{weight,bias}).",
)

DINOV3_DIR = "dinov3-vitl16-pretrain-lvd1689m"
DINOV3_CONFIG, DINOV3_WEIGHTS = hf_folder(
    DINOV3_DIR, "facebook/dinov3-vitl16-pretrain-lvd1689m",
    "DINOv3 License (gated: accept Meta's terms on the model page first)",
    "DINOv3 ViT-L/16 distilled from the 7B teacher on LVD-1689M, Hugging Face transformers layout.")

AMT_S = WeightFile(
    name="amt/amt-s.pth",
    sha256="07e7e03405c213fe4405678db9b42d05671e48c56faf6a441b99bb0047d3cf77",
    source="https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",
    licence="CC BY-NC 4.0 (MCG-NKU/AMT; the Hugging Face repository says cc-by-nc-sa-4.0)",
    size_bytes=12038359,
    note="The AMT authors' AMT-S checkpoint (Vimeo90K), the file VBench's motion smoothness downloads; "
         "sha256 and size from its git-LFS pointer (huggingface.co/lalala125/AMT, commit 4af6ffb "
         "'Upload amt-s & amt-l.', the file's only commit).",
)
