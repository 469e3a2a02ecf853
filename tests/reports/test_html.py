"""HTML building blocks: normalisation for the radar, charts with negative values, tags, thumbnails."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf

from harmony_bench.media import write_clip
from harmony_bench.reports.html import (Bar, GalleryItem, bar_chart_svg, chart_figure, gallery_html, normalised, poster_jpeg,
                          radar_svg, tag_tokens, waveform_envelope)
from harmony_bench.reports.paper import COLUMNS_BY_NAME
from harmony_bench.reports.tables import Cell, Row, Table


def test_radar_normalisation_flips_lower_is_better_columns():
    cols = (COLUMNS_BY_NAME["AQ"], COLUMNS_BY_NAME["PC"], COLUMNS_BY_NAME["ID"])
    table = Table("t", "t", cols, [Row("a", {"AQ": Cell(0.2), "PC": Cell(2.0), "ID": Cell(None)}),
                                   Row("b", {"AQ": Cell(0.6), "PC": Cell(4.0), "ID": Cell(0.9)}),
                                   Row("c", {"AQ": Cell(0.4), "PC": Cell(3.0)})])
    norm = normalised(table)
    assert norm["a"] == {"AQ": 0.0, "PC": 1.0, "ID": None}
    assert norm["b"]["AQ"] == 1.0 and norm["b"]["PC"] == 0.0 and norm["b"]["ID"] == 1.0
    assert norm["c"]["AQ"] == pytest.approx(0.5)


def test_bar_chart_keeps_negative_values_and_whiskers_inside_the_axis():
    svg = bar_chart_svg("IB", [("Overall", [Bar("m", -0.05, (-0.1, 0.02)), Bar("n", 0.2)])], ["m", "n"])
    ys = [float(v) for v in re.findall(r' y[12]?="(-?[\d.]+)"', svg)]
    assert min(ys) >= 0 and max(ys) <= 190
    assert svg.count("<rect") == 2 and svg.count('class="whisker"') == 3
    assert bar_chart_svg("x", [("Overall", [])], ["m"]) == ""  # nothing to draw: no empty chart


def test_tags_become_filter_tokens_and_are_escaped():
    assert tag_tokens({"event_types": ["door", "rain"], "speakers": 2, "setting": "", "language": None}) == \
        ["event_types=door", "event_types=rain", "speakers=2"]
    item = GalleryItem("cx-1", "complex", {"setting": 'kitchen "<b>"'}, None, {"caption": "<i>x</i>"})
    page = gallery_html([item])
    assert "<i>x</i>" not in page and "&lt;i&gt;x&lt;/i&gt;" in page
    assert 'value="setting=kitchen &quot;&lt;b&gt;&quot;"' in page and "no clip" in page


def test_waveform_envelope_follows_the_signal(tmp_path):
    t = np.arange(16000) / 16000
    loud_then_quiet = np.where(t < 0.5, 0.8, 0.1) * np.sin(2 * np.pi * 200 * t)
    sf.write(tmp_path / "a.wav", loud_then_quiet.astype(np.float32), 16000)
    env = waveform_envelope(tmp_path / "a.wav", bins=10)
    assert env.shape == (10, 2)
    assert env[:5, 1].min() > 0.7 and env[5:, 1].max() < 0.15
    assert waveform_envelope(tmp_path / "missing.wav") is None


def test_a_chart_names_every_model_without_a_bar_and_why():
    groups = [("Overall", [Bar("paper-x", 0.4)]), ("Speech", [Bar("paper-x", 0.5)])]
    fig = chart_figure("IB ↑", groups, ["paper-x", "paper-y", "mine"], {"mine": "3 unavailable (no weights)"})
    assert "<svg" in fig and fig.count("<li>") == 2
    assert "<li>no bar for paper-y: not reported in the paper</li>" in fig
    assert "<li>no bar for mine: 3 unavailable (no weights)</li>" in fig
    empty = chart_figure("IB ↑", [("Overall", [])], ["mine"], {"mine": "not run"})
    assert "<svg" not in empty and "no number to draw: mine: not run" in empty and "IB ↑" in empty


def test_an_empty_radar_says_why():
    scores = {"AQ": None, "IQ": None, "DD": None}
    empty = radar_svg("mine", scores, "#000", "no number under the paper's protocol")
    assert "<polygon points=\"\"" not in empty and 'fill-opacity' not in empty
    assert '<figcaption class="why">no number under the paper&#x27;s protocol</figcaption>' in empty
    drawn = radar_svg("mine", {**scores, "AQ": 0.5}, "#000", "unused")
    assert "fill-opacity" in drawn and "unused" not in drawn


def test_poster_is_the_middle_frame_of_the_clip(tmp_path):
    from PIL import Image

    frames = np.repeat(np.arange(40, dtype=np.uint8)[:, None, None, None] * 6, 48 * 64 * 3).reshape(40, 48, 64, 3)
    video = write_clip(tmp_path / "ramp.mp4", frames, 8, np.zeros(40000, np.float32), 8000)  # frame i is grey 6*i
    jpeg = poster_jpeg(video)
    assert jpeg[:2] == b"\xff\xd8" and len(jpeg) < 4000
    assert abs(np.asarray(Image.open(io.BytesIO(jpeg))).mean() - 6 * 20) <= 8  # frame 20 of 40
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    assert poster_jpeg(tmp_path / "junk.mp4") is None
