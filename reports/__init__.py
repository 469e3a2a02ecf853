"""Paper-format reports: Tables 2-7 with the published baselines, CIs, leaderboards, HTML.

`write_run_report(run_dir)`, `write_leaderboard(run_dirs, out_dir)` and `compare_runs(a, b)` are
what the CLI calls; `paper_tables(run_dir)` gives Tables 2 and 4-7 as DataFrames and
`summary_table(run_dir)` the compact text table printed after `run` and `report`;
`harmony_bench.reports.tables` holds the table model and renderers (`ablation_table` gives Table 3's layout for
any list of variant rows).
"""

from harmony_bench.reports.report import compare_runs, paper_tables, write_leaderboard, write_run_report
from harmony_bench.reports.summary import summary_table
from harmony_bench.reports.tables import ablation_table, overall_from_subsets, paper_table

__all__ = ["ablation_table", "compare_runs", "overall_from_subsets", "paper_table", "paper_tables", "summary_table",
           "write_leaderboard", "write_run_report"]
