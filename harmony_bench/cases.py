"""Harmony-Bench cases: the schema (versioned), loading, and validation.

A case set is a folder holding `cases.jsonl` (one JSON object per line) and the case assets
(reference image, reference audio) under that folder. Fields follow paper appendix C.1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harmony_bench.case_set import ROOT as DEFAULT_CASES_DIR
from harmony_bench.case_validation import CASES_FILE, SCHEMA_VERSION, SUBSETS, read_lines, validate_dir

__all__ = ["DEFAULT_CASES_DIR", "SCHEMA_VERSION", "SUBSETS", "Case", "CaseError", "case_from_json", "load_cases"]


@dataclass(frozen=True)
class Case:
    id: str
    subset: str  # one of SUBSETS
    video_caption: str
    reference_image: str  # path relative to the case folder
    reference_audio: str  # path relative to the case folder
    audio_caption: str | None = None
    spoken_word_en: str | None = None
    spoken_word_zh: str | None = None
    language: str | None = None  # "en" / "zh" for cases with a transcript
    source: str = "synthetic"  # "real-world" / "synthetic" style (speech subset)
    duration: float = 5.0  # seconds of clip to generate
    tags: dict = field(default_factory=dict)
    root: Path = field(default=DEFAULT_CASES_DIR, compare=False, repr=False)

    @property
    def transcript(self) -> str | None:
        return self.spoken_word_en or self.spoken_word_zh

    @property
    def reference_image_path(self) -> Path:
        return self.root / self.reference_image

    @property
    def reference_audio_path(self) -> Path:
        return self.root / self.reference_audio

    def to_json(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "root" and v is not None}
        return d


class CaseError(ValueError):
    pass


def load_cases(root: str | Path = DEFAULT_CASES_DIR, subset: str | None = None,
               limit: int | None = None, validate: bool = True) -> list[Case]:
    """Load (and by default validate) a case set; raises CaseError listing every problem."""
    root = Path(root).resolve()
    if validate:
        problems = validate_dir(root)
        if problems:
            raise CaseError(f"{len(problems)} problem(s) in {root}:\n" + "\n".join(f"  {p}" for p in problems))
    cases = [case_from_json(json.loads(raw.decode("utf-8"), strict=False), root)
             for _, raw in read_lines(root / CASES_FILE)]
    if subset:
        if subset not in SUBSETS:
            raise CaseError(f"unknown subset {subset!r}; choose from {', '.join(SUBSETS)}")
        cases = [c for c in cases if c.subset == subset]
    return cases[:limit] if limit else cases


def case_from_json(obj: dict, root: Path) -> Case:
    known = {f for f in Case.__dataclass_fields__ if f != "root"}
    return Case(root=root, **{k: v for k, v in obj.items() if k in known and k != "schema_version"})
