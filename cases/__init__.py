"""The 150 Harmony-Bench cases as package data (cases.jsonl, schema.json, assets/), so a
non-editable install finds them where `harmony_bench.cases.DEFAULT_CASES_DIR` looks."""
