"""Shared fixtures: a tiny case set in the Harmony-Bench schema (two cases per subset)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

TINY_CASES = [
    {"id": "amb-001", "subset": "ambient", "video_caption": "A red ball bounces twice on a wooden floor.",
     "audio_caption": "Two hollow thuds, half a second apart."},
    {"id": "amb-002", "subset": "ambient", "video_caption": "A desk lamp flickers on.",
     "audio_caption": "A click, then a faint electrical hum."},
    {"id": "sp-001", "subset": "speech", "video_caption": "a man is speaking",
     "spoken_word_en": "The train leaves at noon.", "language": "en", "source": "synthetic"},
    {"id": "sp-002", "subset": "speech", "video_caption": "a woman is speaking",
     "spoken_word_zh": "今天天气很好。", "language": "zh", "source": "real-world"},
    {"id": "cx-001", "subset": "complex", "video_caption": "A man talks as a door slams behind him.",
     "audio_caption": "A door slams.", "spoken_word_en": "Did you hear that?", "language": "en"},
    {"id": "cx-002", "subset": "complex", "video_caption": "A woman speaks while rain hits the window.",
     "audio_caption": "Steady rain on glass.", "spoken_word_en": "We should stay inside today.", "language": "en"},
]


def write_case_set(root: Path, cases=TINY_CASES, duration: float = 1.0) -> Path:
    """A valid case folder: cases.jsonl plus a drawn reference image and a tone per case."""
    import soundfile as sf
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, case in enumerate(cases):
        asset_dir = root / "assets" / case["id"]
        asset_dir.mkdir(parents=True, exist_ok=True)
        img = np.zeros((64, 64, 3), np.uint8)
        img[8 + i : 40 + i, 16:48] = (40 * i % 255, 120, 200)
        Image.fromarray(img).save(asset_dir / "ref.png")
        t = np.arange(16000) / 16000
        sf.write(asset_dir / "ref.wav", (0.2 * np.sin(2 * np.pi * (220 + 40 * i) * t)).astype(np.float32), 16000,
                 subtype="PCM_16")
        tags = {"language": case.get("language"), "source": case.get("source", "synthetic"),
                "event_types": ["test"], "speakers": int("spoken_word_en" in case or "spoken_word_zh" in case)}
        lines.append(json.dumps({"schema_version": "1.0", "duration": duration, "tags": tags,
                                 "reference_image": f"assets/{case['id']}/ref.png",
                                 "reference_audio": f"assets/{case['id']}/ref.wav", **case}, ensure_ascii=False))
    (root / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def tiny_cases(tmp_path) -> Path:
    return write_case_set(tmp_path / "cases")
