"""The shipped Harmony-Bench v1 case set, the case validator, and the deterministic asset build."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from harmony_bench.case_validation import json_schema, validate_case, validate_dir
from harmony_bench.case_validation import main as case_validation_main
from harmony_bench.cases import DEFAULT_CASES_DIR, CaseError, load_cases

CASES = DEFAULT_CASES_DIR
SAMPLE_IDS = ("amb-001", "sp-001", "sp-003", "cx-001")  # ambient, speech en, speech zh, complex
TIMING_CUE = re.compile(r"second|two|three|four|five|six|start|end|middle|twice|after|then|until|once|first|last|final|throughout|"
                        r"steady|regular|rhythmic|continuous", re.I)


def _lines(root: Path = CASES) -> list[dict]:
    return [json.loads(line) for line in (root / "cases.jsonl").read_text(encoding="utf-8").splitlines()]


def _copy(tmp_path: Path, ids=SAMPLE_IDS) -> tuple[Path, list[dict]]:
    """A small valid case folder: the chosen cases and their assets."""
    rows = [r for r in _lines() if r["id"] in ids]
    for r in rows:
        shutil.copytree(CASES / "assets" / r["id"], tmp_path / "assets" / r["id"])
    _write(tmp_path, rows)
    return tmp_path, rows


def _write(root: Path, rows: list) -> None:
    text = "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
    (root / "cases.jsonl").write_text(text + "\n", encoding="utf-8")


def _build_assets_module():
    spec = importlib.util.spec_from_file_location("build_assets", CASES / "build_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- the shipped set

def test_shipped_set_validates_with_the_c1_composition():
    assert validate_dir(CASES) == []
    cases = load_cases(CASES)
    assert len(cases) == 150
    assert Counter(c.subset for c in cases) == {"ambient": 50, "speech": 50, "complex": 50}
    speech = [c for c in cases if c.subset == "speech"]
    assert Counter(c.source for c in speech) == {"real-world": 25, "synthetic": 25}
    assert sum(c.language == "zh" for c in speech) >= 15
    prefix = {"ambient": "amb", "speech": "sp", "complex": "cx"}
    for subset, p in prefix.items():
        ids = [c.id for c in cases if c.subset == subset]
        assert ids == [f"{p}-{i:03d}" for i in range(1, 51)]
    assert all(c.duration == 5.0 for c in cases)


def test_shipped_cases_are_distinct_and_follow_the_subset_conventions():
    cases = load_cases(CASES)
    for field in ("video_caption", "audio_caption"):
        texts = [getattr(c, field) for c in cases if c.subset != "speech"]
        assert len(set(texts)) == len(texts), f"repeated {field}"
    transcripts = [c.transcript for c in cases if c.transcript]
    assert len(transcripts) == 100 and len(set(transcripts)) == 100
    for c in cases:
        assert {"language", "source", "event_types", "speakers", "setting"} <= set(c.tags), c.id
        if c.subset == "speech":
            assert re.fullmatch(r"an? [a-z -]+ is speaking", c.video_caption), c.id
        if c.spoken_word_en:
            assert 5 <= len(c.spoken_word_en.split()) <= 15, c.id
        if c.spoken_word_zh:
            assert 8 <= len(c.spoken_word_zh) <= 30, c.id
        if c.subset != "speech":
            assert TIMING_CUE.search(c.audio_caption), f"{c.id}: no timing cue in the audio caption"
    complex_events = [tuple(c.tags["event_types"]) for c in cases if c.subset == "complex"]
    assert all(e[0] == "speech" and len(e) >= 2 for e in complex_events)


def test_shipped_assets_are_small_and_in_the_stated_formats():
    total = 0
    for c in load_cases(CASES):
        with Image.open(c.reference_image_path) as img:
            assert img.format == "PNG" and img.size == (256, 256)
        info = sf.info(c.reference_audio_path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 2.0 <= info.duration <= 4.0
        total += c.reference_image_path.stat().st_size + c.reference_audio_path.stat().st_size
    assert total < 12 * 1024 * 1024


def test_reference_speech_never_says_the_target_transcript():
    build = _build_assets_module()
    transcripts = {c.transcript for c in load_cases(CASES) if c.transcript}
    assert not transcripts & set(build.REFERENCE_EN + build.REFERENCE_ZH)


@pytest.mark.slow  # importing harmony_model.synthav brings in torch: about 5 s on 2 busy cores
def test_build_assets_is_deterministic(tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    build = _build_assets_module()
    for row in _lines():
        if row["id"] in SAMPLE_IDS:
            for path in build.build_case(row, tmp_path):
                committed = CASES / path.relative_to(tmp_path)
                assert path.read_bytes() == committed.read_bytes(), f"{committed} differs from a rebuild"


# ---------------------------------------------------------------------------- the schema

def test_schema_json_is_rendered_from_the_python_rules():
    committed = json.loads((CASES / "schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema()
    assert committed["$id"].endswith("/1.0")


def test_json_schema_accepts_every_shipped_line():
    jsonschema = pytest.importorskip("jsonschema")
    schema = jsonschema.Draft202012Validator(json_schema())
    assert [r["id"] for r in _lines() if not schema.is_valid(r)] == []


BROKEN_LINES = {  # mutation of a valid speech (zh) line -> field the validator must name
    "extra field": ({"spoken_words_en": "hello there"}, "spoken_words_en"),
    "bad subset": ({"subset": "music"}, "subset"),
    "bad source": ({"source": "studio"}, "source"),
    "old schema": ({"schema_version": "0.9"}, "schema_version"),
    "bad id": ({"id": "../escape"}, "id"),
    "both transcripts": ({"spoken_word_en": "Hello there, how are you today?", "language": "zh"},
                         "spoken_word_en/spoken_word_zh"),
    "long caption": ({"video_caption": "a man in a blue shirt is sitting in a chair and speaking to the camera slowly"},
                     "video_caption"),
    "duration": ({"duration": 600}, "duration"),
    "id with newline": ({"id": "sp-003\n"}, "id"),
    "tag type": ({"tags": {"language": 5, "source": "real-world", "event_types": ["speech"], "speakers": 1,
                           "setting": "home kitchen"}}, "tags.language"),
    "tag disagrees": ({"tags": {"language": "en", "source": "real-world", "event_types": ["speech"], "speakers": 1,
                                "setting": "home kitchen"}}, "tags.language"),
    "NUL in a transcript": ({"spoken_word_zh": "今天\u0000天气很好"}, "spoken_word_zh"),
    "bell in a tag": ({"tags": {"language": "zh", "source": "real-world", "event_types": ["speech"], "speakers": 1,
                                "setting": "home\u0007kitchen"}}, "tags.setting"),
    "line separator": ({"video_caption": "a woman\u2028is speaking"}, "video_caption"),
    "over-long transcript": ({"spoken_word_zh": "今" * 4097}, "spoken_word_zh"),
    "lone surrogate": ({"spoken_word_zh": "今天\ud800"}, "spoken_word_zh"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_LINES))
def test_field_rules_give_one_message_and_agree_with_json_schema(name):
    jsonschema = pytest.importorskip("jsonschema")
    change, field = BROKEN_LINES[name]
    row = {**next(r for r in _lines() if r["id"] == "sp-003"), **change}
    messages = []
    validate_case(row, CASES, lambda f, m: messages.append(f))
    assert messages == [field]
    schema = jsonschema.Draft202012Validator(json_schema())
    # word counts and cross-field tag checks are Python-only; Python's jsonschema lets `$` match
    # before a final newline, which ECMA regexes (the schema's dialect) do not
    python_only = ("long caption", "tag disagrees", "id with newline", "lone surrogate")
    assert schema.is_valid(row) == (name in python_only)


# ---------------------------------------------------------------------------- broken case folders

def _break_duplicate(root, rows):
    rows.append(dict(rows[0]))
    return len(rows), rows[0]["id"], "id"


def _break_id_case(root, rows):
    rows.append(dict(rows[0], id=rows[0]["id"].upper()))  # AMB-001.mp4 and amb-001.mp4 collide on macOS
    return len(rows), rows[0]["id"].upper(), "id"


def _break_missing(root, rows):
    del rows[1]["video_caption"]
    return 2, rows[1]["id"], "video_caption"


def _break_dotdot(root, rows):
    rows[0]["reference_image"] = "../outside.png"
    return 1, rows[0]["id"], "reference_image"


def _break_absolute(root, rows):
    rows[0]["reference_audio"] = str((CASES / rows[0]["reference_audio"]).resolve())
    return 1, rows[0]["id"], "reference_audio"


def _break_symlink(root, rows):
    outside = root.parent / "outside.wav"
    shutil.copy(CASES / rows[1]["reference_audio"], outside)
    link = root / "assets" / rows[1]["id"] / "link.wav"
    link.symlink_to(outside)
    rows[1]["reference_audio"] = f"assets/{rows[1]['id']}/link.wav"
    return 2, rows[1]["id"], "reference_audio"


def _break_language(root, rows):
    rows[2]["language"] = "en"  # sp-003 carries spoken_word_zh
    return 3, rows[2]["id"], "language"


def _break_unreadable(root, rows):
    (root / rows[3]["reference_image"]).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    return 4, rows[3]["id"], "reference_image"


def _break_wrong_subset_fields(root, rows):
    rows[0]["spoken_word_en"] = "Nobody should be talking in this ambient scene."
    return 1, rows[0]["id"], "spoken_word_en"


def _break_missing_file(root, rows):
    (root / rows[3]["reference_audio"]).unlink()
    return 4, rows[3]["id"], "reference_audio"


def _break_long_audio(root, rows):
    sf.write(root / rows[0]["reference_audio"], np.zeros(31 * 16000, np.float32), 16000, subtype="PCM_16")
    return 1, rows[0]["id"], "reference_audio"


def _break_huge_image(root, rows):
    Image.new("L", (4097, 1)).save(root / rows[1]["reference_image"])
    return 2, rows[1]["id"], "reference_image"


def _break_heavy_image(root, rows):
    (root / rows[2]["reference_image"]).write_bytes(bytes(6 * 1024 * 1024))  # checked before decoding
    return 3, rows[2]["id"], "reference_image"


BREAKS = [_break_heavy_image, _break_duplicate, _break_id_case, _break_missing, _break_dotdot, _break_absolute,
          _break_symlink, _break_language, _break_unreadable, _break_wrong_subset_fields, _break_missing_file, _break_long_audio, _break_huge_image]


@pytest.mark.parametrize("breaker", BREAKS, ids=lambda f: f.__name__[len("_break_"):])
def test_each_problem_gives_one_message_naming_file_case_and_field(tmp_path, breaker):
    root, rows = _copy(tmp_path / "cases")
    assert validate_dir(root) == []
    line, case_id, field = breaker(root, rows)
    _write(root, rows)
    problems = validate_dir(root)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"cases.jsonl:{line}: case {case_id!r}: field {field!r}:"), problems[0]


def test_ids_differing_only_in_letter_case_are_refused_naming_the_first(tmp_path):
    root, rows = _copy(tmp_path / "cases")
    rows.append(dict(rows[1], id="Sp-001"))
    _write(root, rows)
    assert validate_dir(root) == [f"cases.jsonl:{len(rows)}: case 'Sp-001': field 'id': differs only in letter case "
                                  "from 'sp-001' on line 2; their files would collide on a case-insensitive file "
                                  "system (macOS, Windows)"]


def test_a_folder_with_several_problems_lists_each_once(tmp_path):
    root, rows = _copy(tmp_path / "cases")
    for breaker in (_break_missing, _break_dotdot, _break_language, _break_unreadable):
        breaker(root, rows)
    rows.insert(1, '{"id": "amb-009", "subset": ')  # a JSON error on its own line
    _write(root, rows)
    problems = validate_dir(root)
    assert len(problems) == 5, problems
    assert problems[1].startswith("cases.jsonl:2: invalid JSON")
    with pytest.raises(CaseError, match="5 problem"):
        load_cases(root)


def test_an_empty_or_missing_folder_is_reported(tmp_path):
    assert "missing" in validate_dir(tmp_path)[0]
    (tmp_path / "cases.jsonl").write_text("\n", encoding="utf-8")
    assert validate_dir(tmp_path) == ["cases.jsonl: no cases"]


# ---------------------------------------------------------------------------- text and encoding

def test_bad_bytes_and_bad_text_are_all_reported_with_their_lines(tmp_path):
    """A bad byte no longer hides the other problems, and NUL or a 10 MB caption no longer pass."""
    root, rows = _copy(tmp_path / "cases")
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in rows]
    lines[0] = lines[0].replace(b"A ", b"A \xff", 1)  # not UTF-8
    lines[1] = lines[1].replace(b"a man", b"a \x00man", 1)  # a raw NUL byte inside the caption
    rows[2]["spoken_word_zh"] += "\u0000"  # the same, written as a JSON escape
    lines[2] = json.dumps(rows[2]).encode()
    rows[3]["audio_caption"] = "x" * 10_000_000
    lines[3] = json.dumps(rows[3]).encode()
    (root / "cases.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    problems = validate_dir(root)
    assert len(problems) == 4, [p[:200] for p in problems]
    assert problems[0].startswith("cases.jsonl:1: invalid UTF-8 at byte ") and "(ff)" in problems[0]
    assert problems[1] == ("cases.jsonl:2: case 'sp-001': field 'video_caption': control character U+0000 at "
                           "character 3; text must be one printable line")
    assert problems[2].startswith("cases.jsonl:3: case 'sp-003': field 'spoken_word_zh': control character U+0000")
    assert problems[3] == ("cases.jsonl:4: case 'cx-001': field 'audio_caption': 10000000 characters, "
                           "more than 4096")
    with pytest.raises(CaseError, match="4 problem"):
        load_cases(root)
    assert case_validation_main([str(root)]) == 1


def test_a_huge_id_gives_a_short_message(tmp_path):
    root, rows = _copy(tmp_path / "cases", ids=("amb-001",))
    rows[0]["id"] = "a" * 1_000_000
    _write(root, rows)
    [problem] = validate_dir(root)
    assert "1000000 characters" in problem and len(problem) < 250


def test_windows_line_endings_and_separators_inside_strings_do_not_split_cases(tmp_path):
    root, rows = _copy(tmp_path / "cases")
    text = "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\r\n"
    (root / "cases.jsonl").write_bytes(text.encode())
    assert validate_dir(root) == []
    rows[0]["audio_caption"] += "\x0c\u2029"  # str.splitlines() would cut this line in three
    _write(root, rows)
    [problem] = validate_dir(root)
    assert problem.startswith("cases.jsonl:1: case 'amb-001': field 'audio_caption': control character U+000C")
    assert [c.id for c in load_cases(root, validate=False)] == [r["id"] for r in rows]
