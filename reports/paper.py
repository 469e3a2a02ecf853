"""The paper's table layouts and its published numbers (reports/baselines/*.csv).

Published values are kept as `Decimal` parsed from the CSV text, so arithmetic on them (the
overall table is a mean of per-subset means) is exact and rounds the way the paper does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pandas as pd

from harmony_bench.metrics.base import ALL_SUBSETS, AMBIENT_SUBSETS, SPEECH_SUBSETS

BASELINES_DIR = Path(__file__).resolve().parent / "baselines"
SUBSET_ORDER = ("speech", "ambient", "complex")  # the order of the paper's Tables 4, 5, 6

VIDEO, AUDIO, SYNC = "Video Quality & Coherence", "Audio Fidelity & Quality", "Audio-Visual Synchronization"


@dataclass(frozen=True)
class Column:
    name: str  # the paper's column header, also the stored output name
    direction: str | None  # "higher" / "lower"; None for a non-numeric column (ablation flags)
    group: str = ""
    subsets: frozenset[str] = ALL_SUBSETS  # where the paper defines the metric
    reads: str = ""  # the stored output behind a run's cell, when it is not `name`
    published: bool = True  # False: this suite's own column, on a scale the paper printed no number in
    run_note: str = ""  # footnote on every run cell: the assumption under which it shares this column

    @property
    def arrow(self) -> str:
        return {"higher": "↑", "lower": "↓"}.get(self.direction or "", "")

    @property
    def output(self) -> str:
        return self.reads or self.name


# Arrows and per-subset definitions as printed in Tables 2 and 4-6 ("-" cells of every model).
PAPER_COLUMNS: tuple[Column, ...] = (
    Column("AQ", "higher", VIDEO), Column("IQ", "higher", VIDEO), Column("DD", "higher", VIDEO),
    Column("MS", "higher", VIDEO), Column("ID", "higher", VIDEO),
    Column("PQ", "higher", AUDIO), Column("PC", "lower", AUDIO), Column("CE", "higher", AUDIO),
    Column("CU", "higher", AUDIO), Column("WER", "lower", AUDIO, SPEECH_SUBSETS),
    Column("IB-A", "higher", AUDIO),
    Column("Sync-C", "higher", SYNC, SPEECH_SUBSETS), Column("Sync-D", "lower", SYNC, SPEECH_SUBSETS),
    Column("DeSync", "lower", SYNC, AMBIENT_SUBSETS), Column("IB", "higher", SYNC),
)
COLUMNS_BY_NAME = {c.name: c for c in PAPER_COLUMNS}
# Table 7's WER runs 0.92-9.10 where the English WER runs 0.15-1.00: not a character error rate.
# The paper calls it the standard WER, "not perfectly optimized for the tokenization of the Chinese
# language": WER over whitespace tokens, where an unsegmented sentence is one token (under 1 only
# when some sentences come out exactly right, far over 1 when a transcript splits into many
# tokens). A run's WER-words output is that reading; its CER gets a column of its own.
ZH_WER_ASSUMPTION = (
    "Chinese WER read as the paper's: word error rate over whitespace-separated tokens (an unsegmented "
    "sentence is one token; the paper calls its standard WER 'not perfectly optimized for the tokenization "
    "of the Chinese language'), measured as WER-words after this suite's seed-tts normalisation, whose "
    "match with the paper's unpublished normalisation is an assumption")
CHINESE_COLUMNS: tuple[Column, ...] = (
    replace(COLUMNS_BY_NAME["WER"], reads="WER-words", run_note=ZH_WER_ASSUMPTION),
    Column("CER", "lower", AUDIO, SPEECH_SUBSETS, reads="WER", published=False),
) + tuple(COLUMNS_BY_NAME[n] for n in ("Sync-C", "Sync-D", "IB"))
ABLATION_FLAGS: tuple[Column, ...] = (
    Column("GLDI", None, "Model Structure"), Column("RoPE", None, "Model Structure"),
    Column("CTS", None, "Methodology"), Column("SyncCFG", None, "Methodology"))
ABLATION_COLUMNS: tuple[Column, ...] = ABLATION_FLAGS + tuple(
    Column(n, COLUMNS_BY_NAME[n].direction, "Synchronization Metrics") for n in ("Sync-C", "Sync-D", "IB"))


@dataclass(frozen=True)
class PaperTable:
    number: int
    file: str
    title: str
    short: str  # axis label in charts
    columns: tuple[Column, ...]
    subset: str | None = None  # the Harmony-Bench subset the table covers; None: overall / other


PAPER_TABLES: dict[str, PaperTable] = {
    "overall": PaperTable(2, "table2_overall.csv", "Overall: mean over the three subsets", "Overall", PAPER_COLUMNS),
    "ablation": PaperTable(3, "table3_ablation.csv", "Ablation (human-speech data)", "Ablation", ABLATION_COLUMNS),
    "speech": PaperTable(4, "table4_speech.csv", "Human-speech subset", "Speech", PAPER_COLUMNS, "speech"),
    "ambient": PaperTable(5, "table5_ambient.csv", "Ambient-sound subset", "Ambient", PAPER_COLUMNS, "ambient"),
    "complex": PaperTable(6, "table6_complex.csv", "Complex-scene subset", "Complex", PAPER_COLUMNS, "complex"),
    "zh": PaperTable(7, "table7_chinese_speech.csv", "Chinese speech", "Chinese",
                     CHINESE_COLUMNS, "speech"),
}


def load_baseline(key: str) -> pd.DataFrame:
    """Published rows of one paper table: index = method, cells `Decimal` or None ("-")."""
    table = PAPER_TABLES[key]
    raw = pd.read_csv(BASELINES_DIR / table.file, comment="#", dtype=str, keep_default_na=False)
    raw = raw.set_index("method")
    expected = [c.name for c in table.columns if c.published]
    if list(raw.columns) != expected:
        raise ValueError(f"{table.file}: columns {list(raw.columns)} != {expected}")
    return raw.map(lambda s: None if s.strip() == "-" else Decimal(s.strip())).astype(object)
