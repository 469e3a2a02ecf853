"""`harmony-bench` command line: run / generate / evaluate / report / leaderboard and helpers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harmony_bench.cases import DEFAULT_CASES_DIR, SUBSETS


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard wants K/N, e.g. 1/4, got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard {text}: K must be in 1..N")
    return k, n


def _metric_list(text: str) -> list[str]:
    return [m.strip() for m in text.split(",") if m.strip()]


def _run_options(p: argparse.ArgumentParser, model_required: bool) -> None:
    p.add_argument("--model", required=model_required, help="model spec: harmony, static, noise, dir:PATH, cmd:TEMPLATE, or a plugin")
    p.add_argument("--cases", type=Path, default=DEFAULT_CASES_DIR, help="case set folder (default: Harmony-Bench v1)")
    p.add_argument("--subset", choices=SUBSETS)
    p.add_argument("--limit", type=int, help="first N cases of each subset")
    p.add_argument("--metrics", type=_metric_list, help="comma-separated metric keys (default: all; see `harmony-bench metrics`)")
    p.add_argument("--shard", type=_shard, default=(1, 1), help="K/N: this process takes shard K of N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    p.add_argument("--out", type=Path, help="run folder (default: runs/<model>)")
    _output_options(p)


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _config(args):
    from harmony_bench.runner import RunConfig

    out = args.out or Path("runs") / _safe_name(args.model or "run")
    return RunConfig(model=args.model, out=out, cases_dir=args.cases, subset=args.subset, limit=args.limit,
                     metrics=args.metrics, shard=args.shard, seed=args.seed, device=args.device,
                     quiet=args.quiet or args.json)


def _safe_name(spec: str) -> str:
    name, _, arg = spec.partition(":")
    tail = Path(arg.split()[0]).stem if arg else ""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{name}-{tail}" if tail) or name


def _print_summary(summary, args, out: Path) -> int:
    if args.json:
        print(json.dumps({**summary.to_json(), "out": str(out)}, indent=2))
        return summary.exit_code
    r = summary.rows
    print(f"{summary.cases} cases; clips: {summary.clips_generated} generated, {summary.clips_reused} reused, "
          f"{summary.clips_failed} failed; metric results: {r['ok']} ok, {r['unscorable']} unscorable, "
          f"{r['unavailable']} unavailable, {r['error']} errors, {r['skipped']} already stored")
    for note in summary.notes[:20]:
        print(f"  note: {note}")
    for problem in summary.problems[:20]:
        print(f"  failed: {problem}")
    if len(summary.problems) > 20:
        print(f"  ... and {len(summary.problems) - 20} more (see {out / 'summary.json'})")
    print(f"run folder: {out}")
    return summary.exit_code


def cmd_run(args) -> int:
    from harmony_bench import runner

    cfg = _config(args)
    return _print_summary(runner.run(cfg), args, cfg.out)


def cmd_generate(args) -> int:
    from harmony_bench import runner

    cfg = _config(args)
    return _print_summary(runner.generate(cfg), args, cfg.out)


def cmd_evaluate(args) -> int:
    from harmony_bench import runner

    if args.run:
        args.out = args.run
    if args.out is None:
        raise SystemExit("evaluate needs a run folder (positional) or --model")
    cfg = _config(args)
    summary = runner.generate(cfg) if args.model else None
    summary = runner.evaluate(cfg, summary)
    (Path(cfg.out) / "summary.json").write_text(json.dumps(summary.to_json(), indent=2))
    return _print_summary(summary, args, cfg.out)


def cmd_report(args) -> int:
    from harmony_bench import runner

    for path in runner.report(args.run):
        print(path)
    return 0


def cmd_leaderboard(args) -> int:
    from reports import write_leaderboard

    for path in write_leaderboard(list(args.runs), args.out):
        print(path)
    return 0


def cmd_merge(args) -> int:
    from harmony_bench.store import Store

    with Store(args.into) as store:
        for src in args.sources:
            print(f"{src}: {store.merge_from(src)} result rows merged")
    return 0


def cmd_cases(args) -> int:
    from harmony_bench.case_validation import validate_dir
    from harmony_bench.cases import load_cases

    problems = validate_dir(Path(args.dir).resolve())
    if problems:
        for p in problems:
            print(p)
        print(f"{len(problems)} problem(s) in {args.dir}")
        return 1
    cases = load_cases(args.dir, validate=False)
    counts = {s: sum(c.subset == s for c in cases) for s in SUBSETS}
    print(f"{len(cases)} valid cases in {args.dir}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return 0


def cmd_metrics(args) -> int:
    from harmony_bench.weights import WeightsMismatch, WeightsMissing, resolve
    from metrics.registry import all_metric_keys, get_metric

    rows = []
    for key in all_metric_keys():
        cls = get_metric(key)
        reason = cls().availability()
        for wf in cls.weights if reason is None else ():
            try:  # present is not enough: a file failing verification never counts as runnable
                resolve(wf)
            except (WeightsMismatch, WeightsMissing) as exc:
                reason = f"weights fail verification: {exc}"
                break
        rows.append({"key": key, "family": cls.family, "outputs": [o.name for o in cls.outputs],
                     "backend": cls.backend, "official": cls.official, "protocol": cls.protocol_id(),
                     "subsets": sorted(cls.subsets), "needs": list(cls.needs),
                     "runs_here": reason is None, "why_not": reason})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'metric':34} {'outputs':22} {'kind':9} {'protocol':30} {'subsets':22} runs here?")
    for r in rows:
        kind = "official" if r["official"] else "variant"
        status = "yes" if r["runs_here"] else f"no: {r['why_not']}"
        print(f"{r['key']:34} {','.join(r['outputs'])[:22]:22} {kind:9} {r['protocol'][:30]:30} "
              f"{','.join(r['subsets'])[:22]:22} {status}")
    return 0


def cmd_weights(args) -> int:
    from harmony_bench.weights import WeightsMismatch, WeightsMissing, expected_sha256, resolve, weights_dir
    from metrics.registry import all_metric_keys, get_metric

    print(f"weights folder: {weights_dir()}  (set HARMONY_BENCH_WEIGHTS to change)")
    users: dict = {}  # weight file name -> (WeightFile, metric keys using it)
    for key in all_metric_keys():
        for wf in get_metric(key).weights:
            users.setdefault(wf.name, (wf, []))[1].append(key)
    bad = 0
    for wf, keys in users.values():
        try:
            _, sha = resolve(wf) if args.verify else (None, None)
            state = f"ok (sha256 {sha[:12]}...)" if sha else ("present" if (weights_dir() / wf.name).exists() else "MISSING")
            bad += state == "MISSING"
        except WeightsMissing:
            state, bad = "MISSING", bad + 1
        except WeightsMismatch as exc:
            state, bad = f"BAD: {exc}", bad + 1
        override = expected_sha256(wf)
        check = wf.verification() if override == wf.sha256 else f"sha256 {override} (from $HARMONY_BENCH_MANIFEST)"
        print(f"\n{wf.name}  [{', '.join(keys)}]  {state}\n  source:  {wf.source}\n  licence: {wf.licence}\n  check:   {check}"
              + (f"\n  size:    {wf.size_bytes:,} bytes" if wf.size_bytes else "")
              + (f"\n  note:    {wf.note}" if wf.note else ""))
    if not args.verify:
        print("\n(run with --verify to check the files present)")
    return 1 if bad and args.verify else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harmony-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="generate, evaluate and report")
    _run_options(p, model_required=True)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("generate", help="generate the clips of the cases with a model")
    _run_options(p, model_required=True)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("evaluate", help="score the clips of a run (or of --model dir:PATH)")
    p.add_argument("run", nargs="?", type=Path, help="run folder")
    _run_options(p, model_required=False)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("report", help="write the paper-format tables and HTML report of a run")
    p.add_argument("run", type=Path)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("leaderboard", help="merge runs into one leaderboard beside the paper's baselines")
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("merge", help="merge shard stores into one run")
    p.add_argument("into", type=Path)
    p.add_argument("sources", nargs="+", type=Path)
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("cases", help="case set tools")
    csub = p.add_subparsers(dest="cases_command", required=True)
    v = csub.add_parser("validate", help="check a case folder against the schema")
    v.add_argument("dir", nargs="?", type=Path, default=DEFAULT_CASES_DIR)
    v.set_defaults(func=cmd_cases)

    p = sub.add_parser("metrics", help="list metrics, their protocols, and whether each can run here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("weights", help="list the weight files each official metric needs, and check them")
    p.add_argument("--verify", action="store_true", help="hash the files present against the manifest")
    p.set_defaults(func=cmd_weights)

    # listed for --help only: `main` hands `train ...` to harmony_model.train untouched
    sub.add_parser("train", help="train the reference model: harmony-bench train --config CFG.json --out DIR", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    # mediapipe / TFLite write C++ log lines to stderr through the progress bars
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["train"]:
            from harmony_model.train import main as train_main

            return train_main(argv[1:]) or 0
        args = build_parser().parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted; everything already stored is kept, re-run the same command to resume", file=sys.stderr)
        return 130
    except (ValueError, KeyError, RuntimeError, FileNotFoundError) as exc:
        print(f"harmony-bench: error: {exc}", file=sys.stderr)
        return 2

if __name__ == "__main__":
    sys.exit(main())
