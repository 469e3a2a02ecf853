"""Architecture overrides for checkpoints whose file format does not carry the architecture.

The official ImageBind-Huge and AudioBox-Aesthetics files hold only tensors; their architecture
is fixed in code. Random-weight test files (`harmony_bench.metrics.audio.testing`) are far smaller, so they come
with a `<weights file>.arch.json` beside them naming the small architecture. The official downloads
have no such file. When one is used, its sha256 joins the recorded weights hash, so numbers made
with it can never pass for the official model's.
"""

from __future__ import annotations

import json
from pathlib import Path

from harmony_bench.weights import sha256_of


def override_path(weights_path: Path) -> Path:
    return weights_path.with_name(weights_path.name + ".arch.json")


def architecture_override(weights_path: Path, allowed: dict[str, type]) -> tuple[dict, str]:
    """({setting: value}, "name=sha256") from the override file, or ({}, "") when there is none.

    Only the settings in `allowed` (name -> type) are accepted, each of that exact type, so the file
    can never smuggle code or unexpected arguments into a constructor."""
    path = override_path(weights_path)
    if not path.is_file():
        return {}, ""
    settings = json.loads(path.read_text())
    bad = [k for k, v in settings.items() if k not in allowed or not isinstance(v, allowed[k])]
    if bad:
        raise ValueError(f"{path}: settings not allowed or of the wrong type: {', '.join(sorted(bad))}")
    return settings, f"{path.name}={sha256_of(path)}"
