"""Loading verified weight files into modules, with errors that name the file.

The sha256 check happens before (harmony_bench.weights.resolve); these helpers catch what a
matching-but-unexpected file (a pinned hash of None, a wrong variant) would still get wrong.
"""

from __future__ import annotations

from pathlib import Path


class CheckpointError(ValueError):
    """A weight file that passed (or had no) hash check but does not fit the architecture."""


def load_state_dict(path: Path) -> dict:
    """A plain tensor state dict from a .pth (weights_only) or .safetensors file."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise many types for damaged files
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def load_into(module, state: dict, path: Path) -> None:
    """Strict load_state_dict whose error names the file."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: does not match the expected architecture: {exc}") from exc


def load_hf_folder(model_cls, config_file: Path, weights_file: Path):
    """A transformers model from a local folder in Hugging Face layout (config.json +
    model.safetensors). Refuses silently random-initialised parameters: every parameter of the
    model must come from the file (extra keys, e.g. a text tower, are allowed)."""
    folder = config_file.parent
    if weights_file.parent != folder:
        raise CheckpointError(f"{weights_file}: must sit beside {config_file}")
    try:
        model, info = model_cls.from_pretrained(str(folder), local_files_only=True, output_loading_info=True)
    except Exception as exc:
        raise CheckpointError(f"{folder}: cannot load {model_cls.__name__} ({type(exc).__name__}: {exc})") from exc
    missing = list(info.get("missing_keys", ())) + list(info.get("mismatched_keys", ()))
    if missing:
        raise CheckpointError(f"{weights_file}: parameters missing or mis-shaped for {model_cls.__name__}: "
                              f"{missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return model.eval()
