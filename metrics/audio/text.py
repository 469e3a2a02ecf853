"""Transcript normalisation and edit counts for WER / CER (pure functions, no models).

Two normalisers, chosen per registered metric so that stored numbers never mix them:

- "seed-tts" (default), after seed-tts-eval's `process_one`: delete punctuation except the
  apostrophe (so "well-known" becomes "wellknown"), lower case, split on whitespace. No number normalisation: "fifty" vs "50" is an
  error. seed-tts-eval strips `string.punctuation` plus zhon's CJK punctuation list; zhon is not
  a dependency here, so every Unicode punctuation character (category P*) is stripped instead,
  a superset of that list.
- "whisper": openai-whisper's EnglishTextNormalizer for English (spellings, numbers, contractions),
  its BasicTextNormalizer otherwise.

Chinese is scored as a character error rate: traditional characters converted to simplified
(zhconv "zh-cn") first, then every non-space character is one unit (seed-tts-eval's zh path).

`words` gives the paper-compatible Chinese scale: the same normalised text split on whitespace
only, as seed-tts-eval's English path (Whisper-large-v3, jiwer on whitespace words) does when it is
run on Chinese. Unsegmented Chinese is then one unit per space-free run, usually one per sentence,
so a clip scores 0 when the transcription matches exactly and k otherwise, k the number of
whitespace runs in the transcription (1 S + (k - 1) I against a one-unit reference). Subset means
of such values land on the 0.92-9.10 scale of the paper's Table 7, which a character error rate
(at most about 1 for a plausible transcription) cannot reach.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable

NORMALISERS = ("seed-tts", "whisper")
CHARACTER_LANGUAGES = frozenset({"zh"})  # scored per character (CER)


@dataclass(frozen=True)
class EditCounts:
    """Levenshtein alignment counts of one hypothesis against one reference."""

    reference_units: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        return self.errors / self.reference_units

    def to_json(self) -> dict:
        return {"reference_units": self.reference_units, "substitutions": self.substitutions,
                "deletions": self.deletions, "insertions": self.insertions}

    @classmethod
    def from_json(cls, d: dict) -> "EditCounts":
        return cls(d["reference_units"], d["substitutions"], d["deletions"], d["insertions"])


def corpus_rate(counts: Iterable[EditCounts]) -> float:
    """Corpus-level error rate: all errors over all reference units (long clips weigh more)."""
    counts = list(counts)
    total = sum(c.reference_units for c in counts)
    if total == 0:
        raise ValueError("no reference units to score against")
    return sum(c.errors for c in counts) / total


def _strip_punctuation(text: str) -> str:
    return "".join(
        "" if ch != "'" and (ch in string.punctuation or unicodedata.category(ch).startswith("P")) else ch
        for ch in text)


def _seed_tts(text: str, language: str) -> str:
    return _strip_punctuation(text).lower()


def _whisper(text: str, language: str) -> str:
    from whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer

    normaliser = EnglishTextNormalizer() if language == "en" else BasicTextNormalizer()
    return normaliser(text)


_TEXT_NORMALISERS: dict[str, Callable[[str, str], str]] = {"seed-tts": _seed_tts, "whisper": _whisper}


def normalise(text: str, language: str, normaliser: str = "seed-tts") -> str:
    """`text` normalised for scoring (Chinese converted to simplified characters first)."""
    if normaliser not in _TEXT_NORMALISERS:
        raise ValueError(f"unknown normaliser {normaliser!r}; choose from {', '.join(NORMALISERS)}")
    if language in CHARACTER_LANGUAGES:
        import zhconv

        text = zhconv.convert(text, "zh-cn")
    return _TEXT_NORMALISERS[normaliser](text, language)


def units(text: str, language: str, normaliser: str = "seed-tts") -> list[str]:
    """The scoring units of `text`: words, or characters for Chinese."""
    text = normalise(text, language, normaliser)
    if language in CHARACTER_LANGUAGES:
        return [ch for ch in text if not ch.isspace()]
    return text.split()


def words(text: str, language: str, normaliser: str = "seed-tts") -> list[str]:
    """Whitespace-separated tokens whatever the language (the paper-compatible Chinese scale)."""
    return normalise(text, language, normaliser).split()


def edit_counts(reference: list[str], hypothesis: list[str]) -> EditCounts:
    """Word-level (or character-level, given characters) alignment counts via jiwer."""
    if not reference:
        raise ValueError("empty reference: no error rate is defined")
    if not hypothesis:  # jiwer needs a non-empty string; everything is a deletion
        return EditCounts(len(reference), 0, len(reference), 0)
    import jiwer

    out = jiwer.process_words(" ".join(reference), " ".join(hypothesis))
    return EditCounts(len(reference), out.substitutions, out.deletions, out.insertions)
