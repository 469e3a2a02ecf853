"""Model adapters. `get_model("name[:arg]")` builds one; built-ins are imported lazily so that
`--model static` never imports the reference model's dependencies."""

from __future__ import annotations

from harmony_bench.models.base import MODELS, Capabilities, GeneratedClip, GenerationError, Model, register_model

MODELS.add_lazy("harmony", "harmony_bench.models.harmony:HarmonyModel")
MODELS.add_lazy("static", "harmony_bench.models.baselines:StaticModel")
MODELS.add_lazy("noise", "harmony_bench.models.baselines:NoiseModel")
MODELS.add_lazy("dir", "harmony_bench.models.external:DirModel")
MODELS.add_lazy("cmd", "harmony_bench.models.external:CmdModel")


def get_model(spec: str, device: str = "cpu") -> Model:
    """Build a model from "name" or "name:arg" (e.g. "dir:clips/", "cmd:python gen.py ...")."""
    name, sep, arg = spec.partition(":")
    factory = MODELS.get(name)
    model = factory(arg if sep else None, device=device)
    model.spec = spec
    model.source = MODELS.origin(name)
    return model


__all__ = ["MODELS", "Capabilities", "GeneratedClip", "GenerationError", "Model", "get_model", "register_model"]
