"""Paper-format reports: Tables 2-7 with the published baselines, CIs, leaderboards, HTML.

`write_run_report(run_dir)`, `write_leaderboard(run_dirs, out_dir)` and `compare_runs(a, b)` are
what the CLI calls; `reports.tables` holds the table model and renderers (`ablation_table` gives
Table 3's layout for any list of variant rows).
"""

from reports.report import compare_runs, write_leaderboard, write_run_report
from reports.tables import ablation_table, overall_from_subsets, paper_table

__all__ = ["ablation_table", "compare_runs", "overall_from_subsets", "paper_table", "write_leaderboard",
           "write_run_report"]
