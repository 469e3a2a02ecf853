"""Validation of a case folder (`cases.jsonl` + assets) against the Harmony-Bench case schema.

The rules live here once: `FIELDS` (types, allowed values, descriptions) and `SUBSET_RULES`
(which fields each subset requires or forbids, paper appendix C.1). `validate_dir` checks a
folder with them, and `json_schema()` renders the same rules as the JSON Schema committed in
`cases/schema.json` (a test keeps the two identical; regenerate with
`python -m harmony_bench.case_validation --write-schema cases/schema.json`).

Every problem is one message naming the file and line, the case id and the field, e.g.
`cases.jsonl:7: case 'sp-003': field 'language': 'zh' needs spoken_word_zh in Chinese characters`,
and every problem of the folder is listed in one pass: a line that is not UTF-8 or not JSON is
reported with its number and the other lines are still checked. Lines end at a line feed only
(JSON Lines), so no other character can split a case in two.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harmony_bench.case_set import ROOT as DEFAULT_CASES_DIR

# The case format's own constants live here, with the rules; harmony_bench.cases re-exports them.
SCHEMA_VERSION = "1.0"
SUBSETS = ("ambient", "speech", "complex")
CASES_FILE = "cases.jsonl"
SOURCES = ("real-world", "synthetic")
LANGUAGES = ("en", "zh")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # ids name output files (<id>.mp4)
EVENT_PATTERN = r"^[a-z][a-z0-9_]*$"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Asset limits: small enough to commit and to load on any machine, large enough for a real
# reference photo or a few seconds of speech.
IMAGE_FORMATS = ("PNG", "JPEG")
MAX_IMAGE_SIDE = 4096
MAX_IMAGE_BYTES = 5 * 1024 * 1024
AUDIO_SECONDS = (0.5, 30.0)
MAX_AUDIO_BYTES = 10 * 1024 * 1024
MAX_BYTES = {"reference_image": MAX_IMAGE_BYTES, "reference_audio": MAX_AUDIO_BYTES}
DURATION_SECONDS = (1.0, 60.0)
MAX_SPEECH_CAPTION_WORDS = 12  # C.1: the speech subset's video caption is deliberately minimal
# Every string in a case (fields, tag values) is one line of printable text of bounded length: a
# NUL or a 10 MB caption would otherwise pass here and break a model or a file name much later.
MAX_TEXT_CHARS = 4096
# Cc: control characters (NUL, tab, newline, DEL, C1); Cs: lone surrogates, which a JSON "\ud800"
# escape produces and no UTF-8 file can hold; Zl/Zp: the Unicode line and paragraph separators.
FORBIDDEN_CATEGORIES = {"Cc": "control character", "Cs": "lone surrogate", "Zl": "line separator",
                        "Zp": "paragraph separator"}
TEXT_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$"  # the same rule in JSON Schema (minus surrogates)


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # JSON Schema type name
    description: str
    enum: tuple | None = None
    pattern: str | None = None


FIELDS: tuple[Field, ...] = (
    Field("schema_version", "string", f"Case schema version; this release reads {SCHEMA_VERSION!r}.",
          enum=(SCHEMA_VERSION,)),
    Field("id", "string", "Unique case id, also the stem of generated files (<id>.mp4).", pattern=ID_PATTERN),
    Field("subset", "string", "Paper subset: ambient sound-video, speech-video or complex scene.", enum=SUBSETS),
    Field("source", "string", "Real-world style or AI-synthesised material (C.1 mixes 25 + 25 in the "
          "speech subset).", enum=SOURCES),
    Field("language", "string", "Language of the transcript: en (spoken_word_en) or zh (spoken_word_zh).",
          enum=LANGUAGES),
    Field("duration", "number", "Seconds of clip to generate."),
    Field("video_caption", "string", "Visual scene description (minimal for the speech subset)."),
    Field("audio_caption", "string", "Non-speech sound description with timing cues."),
    Field("spoken_word_en", "string", "English transcript the generated speech must say."),
    Field("spoken_word_zh", "string", "Chinese transcript (Han characters) the generated speech must say."),
    Field("reference_image", "string", "Path, relative to the case folder, of the PNG/JPEG that conditions the "
          "video branch."),
    Field("reference_audio", "string", "Path, relative to the case folder, of the audio that conditions the "
          "audio branch (timbre)."),
    Field("tags", "object", "Slicing labels for reports: language (en/zh/none), source, event_types "
          "(snake_case list), speakers (count), setting; other keys are free."),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
ALWAYS_REQUIRED = ("schema_version", "id", "subset", "video_caption", "reference_image", "reference_audio")
# subset -> (required, forbidden), per paper appendix C.1; speech needs exactly one transcript.
SUBSET_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ambient": (("audio_caption",), ("spoken_word_en", "spoken_word_zh", "language")),
    "speech": (("language",), ()),
    "complex": (("audio_caption", "spoken_word_en", "language"), ("spoken_word_zh",)),
}
TAG_TYPES = {"language": str, "source": str, "event_types": list, "speakers": int, "setting": str}


def json_schema() -> dict:
    """The case-line schema as JSON Schema (draft 2020-12), rendered from FIELDS and SUBSET_RULES."""
    props = {}
    for f in FIELDS:
        p: dict = {"type": f.type, "description": f.description}
        if f.enum:
            p["enum"] = list(f.enum)
        if f.pattern:
            p["pattern"] = f.pattern
        if f.type == "string" and not f.enum:
            p["minLength"] = 1
            if not f.pattern:
                p.update(maxLength=MAX_TEXT_CHARS, pattern=TEXT_PATTERN)
        props[f.name] = p
    props["duration"].update(minimum=DURATION_SECONDS[0], maximum=DURATION_SECONDS[1], default=5.0)
    props["source"]["default"] = "synthetic"
    props["tags"]["properties"] = {
        "language": {"enum": [*LANGUAGES, "none"]},
        "source": {"enum": list(SOURCES)},
        "event_types": {"type": "array", "items": {"type": "string", "pattern": EVENT_PATTERN}},
        "speakers": {"type": "integer", "minimum": 0},
        "setting": {"type": "string", "maxLength": MAX_TEXT_CHARS, "pattern": TEXT_PATTERN},
    }
    rules = []
    for subset, (required, forbidden) in SUBSET_RULES.items():
        then: dict = {"required": list(required)}
        if forbidden:
            then["not"] = {"anyOf": [{"required": [name]} for name in forbidden]}
        if subset == "speech":
            then["not"] = {"required": ["spoken_word_en", "spoken_word_zh"]}
            then["oneOf"] = [{"required": ["spoken_word_en"], "properties": {"language": {"const": "en"}}},
                             {"required": ["spoken_word_zh"], "properties": {"language": {"const": "zh"}}}]
        rules.append({"if": {"properties": {"subset": {"const": subset}}}, "then": then})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://harmony-bench/case-schema/{SCHEMA_VERSION}",
        "title": f"Harmony-Bench case (one line of {CASES_FILE}), schema {SCHEMA_VERSION}",
        "description": "Fields follow appendix C.1 of the Harmony paper. Asset paths stay inside the case folder; "
                       f"images are {'/'.join(IMAGE_FORMATS)} of at most {MAX_IMAGE_SIDE} px a side and "
                       f"{MAX_IMAGE_BYTES // 2**20} MB; audio lasts {AUDIO_SECONDS[0]}-{AUDIO_SECONDS[1]} s and "
                       f"is at most {MAX_AUDIO_BYTES // 2**20} MB. The speech subset's video_caption has at most "
                       f"{MAX_SPEECH_CAPTION_WORDS} words. Every string is at most {MAX_TEXT_CHARS} characters of "
                       "one-line text: no control characters, lone surrogates or line separators.",
        "type": "object",
        "required": list(ALWAYS_REQUIRED),
        "additionalProperties": False,
        "properties": props,
        "allOf": rules,
    }


class _Report:
    """Collects problems for one line of cases.jsonl."""

    def __init__(self, problems: list[str], line: int, case_id: str | None):
        self.problems, self.line, self.case_id = problems, line, case_id

    def __call__(self, field: str, message: str) -> None:
        who = f"case {_shown(self.case_id)}" if self.case_id else "case with no id"
        self.problems.append(f"{CASES_FILE}:{self.line}: {who}: field {_shown(field)}: {message}")


def _shown(text: str, limit: int = 80) -> str:
    """repr() of a name from the file, cut short: a 10 MB id must not make a 10 MB message."""
    r = repr(text)
    return r if len(r) <= limit else r[:limit - 4] + "...'"


def read_lines(path: Path) -> list[tuple[int, bytes]]:
    """(line number, bytes) of each non-blank line of a JSON Lines file, split at line feeds only."""
    return [(number, raw.removesuffix(b"\r")) for number, raw in enumerate(path.read_bytes().split(b"\n"), 1)
            if raw.strip()]


def validate_dir(root: str | Path) -> list[str]:
    """Check a case folder; returns one message per problem (empty list: valid)."""
    root = Path(root)
    path = root / CASES_FILE
    if not path.is_file():
        return [f"{path}: missing (a case folder holds {CASES_FILE} and the assets it names)"]
    try:
        lines = read_lines(path)
    except OSError as e:
        return [f"{CASES_FILE}: unreadable: {e}"]
    problems: list[str] = []
    # Ids are compared case-folded: <id>.mp4 files of ids differing only in letter case would
    # overwrite each other on a case-insensitive file system (macOS, Windows).
    first: dict[str, tuple[str, int]] = {}
    for number, raw in lines:
        obj = _parse_line(raw, number, problems)
        if obj is None:
            continue
        case_id = obj.get("id") if isinstance(obj.get("id"), str) else None
        report = _Report(problems, number, case_id)
        seen = first.get(case_id.casefold()) if case_id else None
        if seen and seen[0] == case_id:
            report("id", f"duplicate id, first used on line {seen[1]}")
        elif seen:
            report("id", f"differs only in letter case from {_shown(seen[0])} on line {seen[1]}; their files "
                         "would collide on a case-insensitive file system (macOS, Windows)")
        elif case_id:
            first[case_id.casefold()] = (case_id, number)
        validate_case(obj, root, report)
    if not first and not problems:
        problems.append(f"{CASES_FILE}: no cases")
    return problems


def _parse_line(raw: bytes, number: int, problems: list[str]) -> dict | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = raw[e.start:e.end].hex(" ")
        problems.append(f"{CASES_FILE}:{number}: invalid UTF-8 at byte {e.start + 1} of the line ({bad}); "
                        "save the file as UTF-8")
        return None
    try:
        # strict=False lets a raw control character inside a string through, so the field
        # check below names the case and field it is in
        obj = json.loads(text, strict=False)
    except json.JSONDecodeError as e:
        problems.append(f"{CASES_FILE}:{number}: invalid JSON: {e.msg} (column {e.colno})")
        return None
    if not isinstance(obj, dict):
        problems.append(f"{CASES_FILE}:{number}: expected a JSON object, got {type(obj).__name__}")
        return None
    return obj


def validate_case(obj: dict, root: Path, report) -> None:
    """Check one parsed case line; `report(field, message)` records each problem."""
    _check_fields(obj, report)
    subset = obj.get("subset")
    if subset in SUBSET_RULES:
        _check_subset(obj, subset, report)
        if _check_language(obj, report) and isinstance(obj.get("tags"), dict):
            _check_tags(obj, obj["tags"], report)  # tags are compared only with fields that are sound
    for name in ("reference_image", "reference_audio"):
        if isinstance(obj.get(name), str) and obj[name] and text_problem(obj[name]) is None:
            _check_asset(root, obj[name], name, report)


def _check_fields(obj: dict, report) -> None:
    for name in ALWAYS_REQUIRED:
        if name not in obj:
            report(name, "missing (required in every case)")
    for name, value in obj.items():
        field = FIELD_BY_NAME.get(name)
        if field is None:
            report(name, f"unknown field (known: {', '.join(FIELD_BY_NAME)})")
        elif value is None and name not in ALWAYS_REQUIRED:
            continue  # an explicit null means absent
        elif not _has_type(value, field.type):
            report(name, f"expected {field.type}, got {type(value).__name__}")
        elif field.type == "string" and (problem := text_problem(value)):
            report(name, problem)
        elif field.enum and value not in field.enum:
            report(name, f"{value!r} is not one of {', '.join(map(str, field.enum))}")
        elif field.pattern and not re.fullmatch(field.pattern, value):
            report(name, f"{value!r} does not match {field.pattern}")
        elif field.type == "string" and not value.strip():
            report(name, "empty")
    if isinstance(obj.get("tags"), dict):
        for key, value in obj["tags"].items():
            problem = text_problem(key) or _nested_text_problem(value)
            if problem:
                report(f"tags.{key}", problem)
    duration = obj.get("duration")
    if _has_type(duration, "number") and not DURATION_SECONDS[0] <= duration <= DURATION_SECONDS[1]:
        report("duration", f"{duration} s is outside {DURATION_SECONDS[0]}-{DURATION_SECONDS[1]} s")


def text_problem(text: str) -> str | None:
    """Why a string from a case cannot be used as one line of text, or None."""
    if len(text) > MAX_TEXT_CHARS:
        return f"{len(text)} characters, more than {MAX_TEXT_CHARS}"
    for position, ch in enumerate(text, 1):
        kind = FORBIDDEN_CATEGORIES.get(unicodedata.category(ch))
        if kind:
            return f"{kind} U+{ord(ch):04X} at character {position}; text must be one printable line"
    return None


def _nested_text_problem(value) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        problem = (isinstance(key, str) and text_problem(key)) or _nested_text_problem(item)
        if problem:
            return problem
    return None


def _has_type(value, json_type: str) -> bool:
    if json_type == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "object": dict}[json_type])


def _present(obj: dict, name: str) -> bool:
    return obj.get(name) is not None


def _check_subset(obj: dict, subset: str, report) -> None:
    required, forbidden = SUBSET_RULES[subset]
    for name in required:
        if not _present(obj, name):
            report(name, f"missing (required in the {subset} subset)")
    for name in forbidden:
        if _present(obj, name):
            report(name, f"not allowed in the {subset} subset")
    if subset == "speech":
        given = [n for n in ("spoken_word_en", "spoken_word_zh") if _present(obj, n)]
        if len(given) != 1:
            report("spoken_word_en/spoken_word_zh",
                   f"the speech subset needs exactly one transcript, found {len(given)}")
        caption = obj.get("video_caption")
        if isinstance(caption, str) and not text_problem(caption) and len(caption.split()) > MAX_SPEECH_CAPTION_WORDS:
            report("video_caption", f"{len(caption.split())} words; the speech subset keeps it minimal "
                                    f"(at most {MAX_SPEECH_CAPTION_WORDS}, e.g. 'a man is speaking')")


def _check_language(obj: dict, report) -> bool:
    """Language against the transcript field; False when either is unsound (reported here or elsewhere)."""
    language = obj.get("language")
    en, zh = obj.get("spoken_word_en"), obj.get("spoken_word_zh")
    if language is None and en is None and zh is None:
        return True
    if language not in LANGUAGES or (en is None and zh is None):
        return False  # a bad value or a missing transcript is reported by the field and subset checks
    expected, other = ("spoken_word_zh", "spoken_word_en") if language == "zh" else ("spoken_word_en", "spoken_word_zh")
    text = obj.get(expected)
    if text is None:
        report("language", f"{language!r} but the transcript is in {other}")
    elif not isinstance(text, str) or text_problem(text):
        return False
    elif language == "zh" and not CJK.search(text):
        report("spoken_word_zh", "no Chinese characters in a 'zh' transcript")
    elif language == "en" and CJK.search(text):
        report("spoken_word_en", "Chinese characters in an English transcript; use spoken_word_zh and language 'zh'")
    else:
        return True
    return False


def _check_tags(obj: dict, tags: dict, report) -> None:
    sound = {}  # tag values of the documented type; only these are compared with the fields
    for key, kind in TAG_TYPES.items():
        value = tags.get(key)
        if value is None or _nested_text_problem(value):
            continue  # bad text is reported by the field check
        if not isinstance(value, kind) or isinstance(value, bool):
            report(f"tags.{key}", f"expected {kind.__name__}, got {type(value).__name__}")
        else:
            sound[key] = value
    language = obj.get("language") or "none"
    if "language" in sound and sound["language"] != language:
        report("tags.language", f"{sound['language']!r} disagrees with language {language!r}")
    source = obj.get("source", "synthetic")
    if "source" in sound and source in SOURCES and sound["source"] != source:
        report("tags.source", f"{sound['source']!r} disagrees with source {source!r}")
    if "event_types" in sound and not all(isinstance(e, str) and re.fullmatch(EVENT_PATTERN, e)
                                          for e in sound["event_types"]):
        report("tags.event_types", f"each event type must match {EVENT_PATTERN}")
    speakers = sound.get("speakers")
    if speakers is not None:
        has_speech = obj.get("subset") in ("speech", "complex")
        if speakers < 0 or (has_speech and speakers < 1) or (not has_speech and speakers != 0):
            report("tags.speakers", f"{speakers} does not fit the {obj.get('subset')} subset")


def _check_asset(root: Path, rel: str, field: str, report) -> None:
    path = _inside(root, rel, field, report)
    if path is None:
        return
    if not path.is_file():
        report(field, f"{rel}: file not found")
        return
    size, limit = path.stat().st_size, MAX_BYTES[field]
    problem = (f"{size / 2**20:.1f} MB, more than {limit // 2**20} MB" if size > limit
               else (_check_image if field == "reference_image" else _check_audio)(path))
    if problem:
        report(field, f"{rel}: {problem}")


def _inside(root: Path, rel: str, field: str, report) -> Path | None:
    """The asset's path if `rel` is relative and stays inside `root` (links followed), else None."""
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", rel):
        report(field, f"{rel}: absolute path; asset paths are relative to the case folder")
        return None
    if ".." in pure.parts:
        report(field, f"{rel}: '..' leaves the case folder")
        return None
    path = root / pure
    base = root.resolve()
    if not path.resolve().is_relative_to(base):
        report(field, f"{rel}: a symbolic link that points outside the case folder")
        return None
    return path


def _check_image(path: Path) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.format not in IMAGE_FORMATS:
                return f"{img.format} image; use {' or '.join(IMAGE_FORMATS)}"
            if max(img.size) > MAX_IMAGE_SIDE:
                return f"{img.size[0]}x{img.size[1]} px; the longest side may be {MAX_IMAGE_SIDE} px"
            img.load()  # decodes the pixels: a truncated file fails here, not in a metric later
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return f"not a readable image ({e})"
    return None


def _check_audio(path: Path) -> str | None:
    import numpy as np
    import soundfile as sf

    try:
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError) as e:
        return f"not readable audio ({e})"
    seconds = audio.shape[0] / sr
    if not AUDIO_SECONDS[0] <= seconds <= AUDIO_SECONDS[1]:
        return f"{seconds:.2f} s long; reference audio lasts {AUDIO_SECONDS[0]}-{AUDIO_SECONDS[1]} s"
    if not np.isfinite(audio).all():
        return "samples are not finite"
    return None


def main(argv: list[str] | None = None) -> int:
    """`python -m harmony_bench.case_validation [DIR]` or `--write-schema PATH`."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--write-schema"] and len(args) == 2:
        Path(args[1]).write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return 0
    root = Path(args[0]) if args else DEFAULT_CASES_DIR
    problems = validate_dir(root)
    print("\n".join(problems) if problems else f"{root}: valid")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
