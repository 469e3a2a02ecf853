"""The metric interface: a metric scores one decoded clip of one case.

Small on purpose (compare torchmetrics' update/compute): `score(clip, case)` returns the clip's
values; the harness stores them and the reports aggregate them per subset. Everything that
makes a number comparable (backend, protocol version, weights hash) is declared on the class and
stamped on every stored row by the harness.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from harmony_bench.cases import SUBSETS, Case
from harmony_bench.media import Clip
from harmony_bench.weights import WeightFile, WeightsMismatch, WeightsMissing, locate, resolve

ALL_SUBSETS = frozenset(SUBSETS)
SPEECH_SUBSETS = frozenset({"speech", "complex"})  # WER, Sync-C, Sync-D (paper Tables 4-6)
AMBIENT_SUBSETS = frozenset({"ambient", "complex"})  # DeSync


@dataclass(frozen=True)
class Output:
    """One number a metric produces per clip, e.g. "DD" or the auxiliary "DD-motion"."""

    name: str
    direction: str  # "higher" or "lower" is better
    paper: bool = True  # a column of the paper's tables (False: auxiliary, for per-case analysis)

    def __post_init__(self) -> None:
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"{self.name}: direction must be 'higher' or 'lower'")


@dataclass(frozen=True)
class ProtocolCard:
    model: str  # network and exact variant, or "none (classical)"
    checkpoint: str  # file(s) and where they come from
    preprocessing: str
    formula: str
    aggregation: str  # per clip, and per subset
    reference: str  # which reference implementation this follows
    differences: str  # where it deliberately differs, and how it relates to the paper's numbers


@dataclass
class Score:
    values: dict[str, float]  # output name -> value for this clip
    details: dict = field(default_factory=dict)  # JSON-able extras (transcription, offset, ...)


class NotScorable(Exception):
    """This clip cannot get a number under the protocol (no face found, clip too short...)."""


class Metric(ABC):
    key: ClassVar[str]  # registry name, "<family>@<backend>", e.g. "dd@raft"
    family: ClassVar[str]  # the paper metric it measures, e.g. "DD"
    backend: ClassVar[str]  # e.g. "raft", "farneback"
    official: ClassVar[bool]  # True: the paper's model and weights; False: an offline variant
    version: ClassVar[str]  # protocol version; bump whenever stored numbers could change
    outputs: ClassVar[tuple[Output, ...]]
    subsets: ClassVar[frozenset[str]] = ALL_SUBSETS
    needs: ClassVar[tuple[str, ...]] = ()  # human readable, e.g. ("frames@8fps", "audio@16kHz mono")
    weights: ClassVar[tuple[WeightFile, ...]] = ()
    packages: ClassVar[tuple[str, ...]] = ()  # importable names of optional packages needed
    extra: ClassVar[str] = ""  # the pip extra providing `packages`
    card: ClassVar[ProtocolCard]

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._ready = False
        self.weights_sha256 = ""  # "name=sha256;..." of the files actually loaded

    # -- availability and set-up -------------------------------------------------------
    def availability(self) -> str | None:
        """None when this metric can run here, else the reason it cannot (cheap: no hashing)."""
        missing = [p for p in self.packages if importlib.util.find_spec(p) is None]
        if missing:
            hint = f" (pip install 'harmony-bench[{self.extra}]')" if self.extra else ""
            return f"package missing: {', '.join(missing)}{hint}"
        for wf in self.weights:
            try:
                locate(wf)
            except WeightsMissing:
                return f"weights missing: {wf.name}"
        return None

    def setup(self) -> None:
        """Verify weights and load models once, before the first `score`."""
        if self._ready:
            return
        reason = self.availability()
        if reason:
            raise MetricUnavailable(reason)
        paths, hashes = {}, []
        for wf in self.weights:
            path, sha = resolve(wf)
            paths[wf.name] = path
            hashes.append(f"{wf.name}={sha}")
        self.weights_sha256 = ";".join(hashes)
        self.load(paths)
        self._ready = True

    def load(self, paths: dict) -> None:
        """Build the model from verified weight files (name -> Path). Default: nothing to load."""

    @abstractmethod
    def score(self, clip: Clip, case: Case) -> Score:
        """Score one clip. Raise NotScorable with the reason when the protocol gives no number."""

    @classmethod
    def protocol_id(cls) -> str:
        return f"{cls.key}/v{cls.version}"

    @classmethod
    def output(cls, name: str) -> Output:
        return next(o for o in cls.outputs if o.name == name)


class MetricUnavailable(RuntimeError):
    """The metric cannot run on this machine (weights or package missing)."""


__all__ = ["ALL_SUBSETS", "AMBIENT_SUBSETS", "SPEECH_SUBSETS", "Metric", "MetricUnavailable", "NotScorable",
           "Output", "ProtocolCard", "Score", "WeightFile", "WeightsMismatch", "WeightsMissing"]
