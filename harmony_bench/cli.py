"""`harmony-bench` command line: run / generate / evaluate / report / leaderboard and helpers."""

from __future__ import annotations

import argparse
import dataclasses
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
    keys = [m.strip() for m in text.split(",") if m.strip()]
    if not keys:
        raise argparse.ArgumentTypeError("--metrics names no metric; leave it out to run every metric")
    return keys


def _metric_key(text: str) -> str:
    from harmony_bench.runner import check_metric_keys

    try:
        check_metric_keys([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _run_options(p: argparse.ArgumentParser, model_required: bool) -> None:
    p.add_argument("--model", required=model_required, help="model spec: harmony, static, noise, dir:PATH, cmd:TEMPLATE, or a plugin")
    p.add_argument("--cases", type=Path, help="case set folder (default: the run's own, else Harmony-Bench v1)")
    p.add_argument("--subset", choices=SUBSETS, help="only the cases of one subset")
    p.add_argument("--limit", type=_positive, help="first N cases of each subset (N >= 1)")
    p.add_argument("--metrics", type=_metric_list, help="comma-separated metric keys (default: all; see `harmony-bench metrics`)")
    p.add_argument("--shard", type=_shard, default=(1, 1), help="K/N: this process takes shard K of N")
    p.add_argument("--seed", type=int, default=0, help="generation seed, part of the run's identity (default 0)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    p.add_argument("--out", type=Path, help="run folder (default: runs/<model>-<hash of the model spec>)")
    p.add_argument("--overwrite", action="store_true",
                   help="if --out holds a run of another model, case set or seed, discard its clips and scores")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: this process; ray: Ray workers, one model (or metric set) each (pip extra [ray])")
    p.add_argument("--ray-address", help="join this Ray cluster (e.g. auto, ray://head:10001); default: start a local one")
    p.add_argument("--workers", type=_positive, help="Ray workers (default: as many as the cluster fits)")
    p.add_argument("--gpus-per-worker", type=_non_negative,
                   help="GPUs each Ray worker takes, may be fractional (default: 1 if the cluster has GPUs, else 0)")
    p.add_argument("--metric-threads", type=_positive,
                   help="metrics of one clip scored at once (default: one per CPU core on the CPU, else 1)")
    p.add_argument("--batch-size", type=_positive,
                   help="cases generated in one batch (default: the model's; see docs/performance.md)")
    p.add_argument("--generation-threads", type=_positive,
                   help="batches generated at once, each on one torch thread (default: one per CPU core "
                        "on the CPU, else 1)")
    _output_options(p)


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _config(args):
    from harmony_bench.runner import RunConfig

    out = args.out or default_out(args.model)
    return RunConfig(model=args.model, out=out, cases_dir=args.cases, subset=args.subset, limit=args.limit,
                     metrics=args.metrics, shard=args.shard, seed=args.seed, device=args.device,
                     quiet=args.quiet or args.json, overwrite=args.overwrite, executor=args.executor,
                     ray_address=args.ray_address, workers=args.workers, gpus_per_worker=args.gpus_per_worker,
                     metric_threads=args.metric_threads, batch_size=args.batch_size,
                     generation_threads=args.generation_threads)


def default_out(spec: str) -> Path:
    """runs/<readable name>-<8 hex of the spec>: two specs never share a default folder."""
    import hashlib

    name, _, arg = spec.partition(":")
    tail = Path(arg.split()[0]).stem if arg.split() else ""
    readable = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in (f"{name}-{tail}" if tail else name))
    return Path("runs") / f"{readable}-{hashlib.sha256(spec.encode()).hexdigest()[:8]}"


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


def _print_results(run_dir: Path, report_dir: Path | None = None) -> None:
    """The compact results table after `run` and `report` (the report has everything else)."""
    from harmony_bench.reports import summary_table

    print()
    print(summary_table(run_dir, width=100, report_dir=report_dir))


def cmd_run(args) -> int:
    from harmony_bench import runner

    cfg = _config(args)
    code = _print_summary(runner.run(cfg), args, cfg.out)
    if not args.json:
        _print_results(cfg.out)
    return code


def cmd_generate(args) -> int:
    from harmony_bench import runner

    cfg = _config(args)
    return _print_summary(runner.generate(cfg), args, cfg.out)


def cmd_evaluate(args) -> int:
    from harmony_bench import runner

    from harmony_bench.runfolder import atomic_write

    if args.run:
        args.out = args.run
    if args.out is None and not args.model:
        raise UsageError("evaluate needs a run folder (positional) or --model")
    cfg = _config(args)
    runner.check_config(cfg)
    summary = runner.generate(cfg) if args.model else None
    summary = runner.evaluate(cfg, summary)
    atomic_write(Path(cfg.out) / "summary.json", json.dumps(summary.to_json(), indent=2))
    return _print_summary(summary, args, cfg.out)


def cmd_report(args) -> int:
    from harmony_bench import runner

    paths = runner.report(args.run, out_dir=args.out)
    print(f"{len(paths)} files written to {paths[0].parent if paths else args.out}")
    _print_results(args.run, args.out)
    return 0


def cmd_leaderboard(args) -> int:
    import tempfile

    from harmony_bench.bundle import run_folders
    from harmony_bench.reports import write_leaderboard

    if args.out is None and args.site is None:
        raise UsageError("leaderboard needs --out (tables), --site (static site) or both")
    with tempfile.TemporaryDirectory(prefix="harmony-bench-bundles-") as tmp:
        # a site links its clips, so a bundle's clips are unpacked inside it
        runs = run_folders(list(args.runs), args.site / "runs" if args.site else Path(tmp))
        for path in write_leaderboard(runs, args.out) if args.out else ():
            print(path)
        if args.site:
            from harmony_bench.reports.site import write_site

            print(write_site(runs, args.site, previews=args.previews))
    return 0


def cmd_bundle(args) -> int:
    from harmony_bench.bundle import write_bundle

    print(write_bundle(args.run, args.out))
    return 0


def cmd_verify(args) -> int:
    from harmony_bench.bundle import verify

    verdict = verify(args.bundle, sample=args.sample, seed=args.seed)
    if args.json:
        print(json.dumps({**dataclasses.asdict(verdict), "bundle": str(verdict.bundle), "passed": verdict.passed},
                         indent=2))
    else:
        for line in verdict.lines():
            print(line)
    return 0 if verdict.passed else 1


def cmd_merge(args) -> int:
    from harmony_bench.runfolder import merge_runs

    counts = merge_runs(args.into, list(args.sources))
    print(f"merged {len(args.sources)} run folder(s) into {args.into}: {counts['clips']} clips and "
          f"{counts['rows']} result rows added or updated")
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


def cmd_models(args) -> int:
    from harmony_bench.models import MODELS

    rows = []
    for name in MODELS.names():
        origin = MODELS.origin(name)
        row = {"name": name, "kind": "plugin" if origin else "built-in",
               "source": f"{origin['package']} {origin['version']}" if origin else "harmony-bench"}
        try:
            cls = MODELS.get(name)
            caps = getattr(cls, "capabilities", None)
            row["capabilities"] = dataclasses.asdict(caps) if dataclasses.is_dataclass(caps) else {}
            row["about"] = ((cls.__doc__ or "").strip().splitlines() or [""])[0]
        except Exception as exc:  # a broken plugin is listed with its reason, not a traceback
            row["capabilities"], row["about"] = {}, f"cannot be loaded: {type(exc).__name__}: {exc}"
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        caps = r["capabilities"]
        modes = [m for m in ("joint", "audio_driven_video", "video_driven_audio") if caps.get(m)]
        langs = ",".join(caps.get("languages", ()))
        print(f"{r['name']:10} {r['kind']:8} {r['source'][:24]:24} {'+'.join(modes)[:30]:30} {langs}")
        if r["about"]:
            print(f"{'':10} {r['about'][:88]}")
    return 0


def cmd_metrics(args) -> int:
    from harmony_bench.weights import WeightsMismatch, WeightsMissing, resolve
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

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
                     "runs_here": reason is None, "why_not": reason, "card": dataclasses.asdict(cls.card)})
    if args.keys:
        rows = [r for r in rows if r["key"] in args.keys]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.keys:
        for r in rows:
            print(f"{r['protocol']} ({'official' if r['official'] else 'variant'}; "
                  f"{'runs here' if r['runs_here'] else 'does not run here: ' + r['why_not']})")
            for field, text in r["card"].items():
                if field == "steps":  # (reference step, how it is followed) pairs
                    text = "; ".join(f"{step} -> {how}" for step, how in text)
                if text:
                    print(_wrapped(f"{field}: {text}", indent=2))
        return 0
    print(f"{'metric':30} {'kind':8} {'version':7} {'subsets':12} {'outputs':22} runs here?")
    for r in rows:
        kind = "official" if r["official"] else "variant"
        version = r["protocol"].rpartition("/")[2]
        subsets = ",".join(s[:3] for s in r["subsets"])
        print(f"{r['key']:30} {kind:8} {version:7} {subsets:12} {','.join(r['outputs'])[:22]:22} "
              f"{'yes' if r['runs_here'] else 'no'}")
        if not r["runs_here"]:
            print(_wrapped(f"why not: {r['why_not']}", indent=4))
    return 0


def _wrapped(text: str, indent: int, width: int = 100) -> str:
    """Wrapped to `width` columns; a path or URL longer than a line stays whole, to be copied."""
    import textwrap

    pad = " " * indent
    return textwrap.fill(text, width, initial_indent=pad, subsequent_indent=pad + "  ",
                         break_long_words=False, break_on_hyphens=False)


def cmd_weights(args) -> int:
    from harmony_bench.weights import WeightsMismatch, WeightsMissing, expected_sha256, resolve, weights_dir
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

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
        print()
        print(_wrapped(f"{wf.name}  [{', '.join(keys)}]", indent=0))
        print(f"  state:   {state}")  # one line, so the path in it can be copied whole
        fields = [("source", wf.source), ("licence", wf.licence), ("check", check),
                  ("size", f"{wf.size_bytes:,} bytes" if wf.size_bytes else ""), ("note", wf.note)]
        for label, text in fields:
            if text:
                print(_wrapped(f"{label + ':':9}{text}", indent=2))
    if not args.verify:
        print("\n(run with --verify to check the files present; `harmony-bench weights fetch` downloads them)")
    return 1 if bad and args.verify else 0


def cmd_weights_fetch(args) -> int:
    from harmony_bench.fetch import ask_at_terminal, dry_run_lines, fetch_files, metric_files
    from harmony_bench.weights import weights_dir

    files = metric_files(args.keys)
    if args.known_answers:
        from harmony_bench.known_answers import known_answer_files

        for wf in known_answer_files(args.keys):
            files.setdefault(wf.name, (wf, ["weights check"]))
    if not files:
        print("no weight files: these metrics need none")
        return 0
    if args.dry_run:
        print("\n".join(dry_run_lines(files, args.from_dir)))
        return 0
    print(f"weights folder: {weights_dir()}")
    report = fetch_files([wf for wf, _ in files.values()], weights_dir(), from_dir=args.from_dir,
                         accept_licence=args.accept_licence, ask=ask_at_terminal())
    print(f"{len(report.fetched)} fetched, {len(report.present)} already present, {len(report.refused)} refused "
          f"(licence), {len(report.failed)} failed")
    return 0 if report.ok else 1


def cmd_doctor(args) -> int:
    from harmony_bench.doctor import doctor

    lines, code = doctor()
    print("\n".join(lines))
    return code


def cmd_weights_check(args) -> int:
    from harmony_bench.known_answers import check_all, report_lines

    results = check_all(args.keys, device=args.device)
    print("\n".join(report_lines(results)).lstrip("\n"))
    return 1 if any(r.verdict == "FAIL" for r in results) else 0


EPILOG = "exit status: 0 success; 1 a case, metric or I/O failure (the rest is kept); 2 a usage error"


def _command(sub, name: str, text: str, func) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".", epilog=EPILOG)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    from harmony_bench import __version__

    parser = argparse.ArgumentParser(prog="harmony-bench", description=__doc__, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"harmony-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _run_options(_command(sub, "run", "generate, evaluate and report", cmd_run), model_required=True)
    _run_options(_command(sub, "generate", "generate the clips of the cases with a model", cmd_generate),
                 model_required=True)
    p = _command(sub, "evaluate", "score the clips of a run (or of --model dir:PATH)", cmd_evaluate)
    p.add_argument("run", nargs="?", type=Path, help="run folder (or give --model and --out)")
    _run_options(p, model_required=False)

    p = _command(sub, "report", "write the paper-format tables and HTML report of a run", cmd_report)
    p.add_argument("run", type=Path, help="run folder")
    p.add_argument("--out", type=Path, help="report folder (default: RUN/report; use it for a read-only run)")

    p = _command(sub, "leaderboard", "put runs side by side with the paper's baselines", cmd_leaderboard)
    p.add_argument("runs", nargs="+", type=Path, help="run folders or bundles (`harmony-bench bundle`)")
    p.add_argument("--out", type=Path, help="folder for the leaderboard tables (md, CSV, LaTeX, JSON, HTML)")
    p.add_argument("--site", type=Path, help="folder for a static site: sortable tables and a page per case")
    p.add_argument("--previews", action="store_true", help="with --site: small WebM previews inside the site "
                   "(made with PyAV) instead of links to the clips")

    p = _command(sub, "bundle", "pack a run for submission: clips, store, identity, environment, sha256s", cmd_bundle)
    p.add_argument("run", type=Path, help="run folder")
    p.add_argument("--out", type=Path, required=True, help="bundle file to write (a zip)")

    p = _command(sub, "verify", "check a bundle's hashes and score a sample of its cases again", cmd_verify)
    p.add_argument("bundle", type=Path, help="bundle file")
    p.add_argument("--sample", type=_positive, default=5, help="cases to score again (default 5)")
    p.add_argument("--seed", type=int, help="seed of the sample (default: drawn, and printed)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")

    p = _command(sub, "merge", "merge run folders of one run (e.g. shards made elsewhere) into one", cmd_merge)
    p.add_argument("into", type=Path, help="run folder to merge into (created if absent)")
    p.add_argument("sources", nargs="+", type=Path, help="run folders to merge from (left unchanged)")

    p = sub.add_parser("cases", help="case set tools", description="Case set tools.", epilog=EPILOG)
    csub = p.add_subparsers(dest="cases_command", required=True, metavar="ACTION")
    v = _command(csub, "validate", "check a case folder against the schema, listing every problem", cmd_cases)
    v.add_argument("dir", nargs="?", type=Path, default=DEFAULT_CASES_DIR,
                   help="case folder (default: Harmony-Bench v1)")

    p = _command(sub, "models", "list the model adapters: built-ins and installed plugins", cmd_models)
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = _command(sub, "metrics", "list metrics, their protocols, and whether each can run here", cmd_metrics)
    p.add_argument("keys", nargs="*", type=_metric_key, help="print these metrics' protocol cards instead")
    p.add_argument("--json", action="store_true", help="print as JSON (cards included)")

    p = _command(sub, "weights", "list the weight files each official metric needs, and check them", cmd_weights)
    p.add_argument("--verify", action="store_true", help="hash the files present against the manifest")
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION")
    f = _command(wsub, "fetch", "download and verify the weight files of metrics into the weights folder",
                 cmd_weights_fetch)
    f.add_argument("keys", nargs="*", type=_metric_key, metavar="KEY",
                   help="metric keys (default: every official backend; see `harmony-bench metrics`)")
    f.add_argument("--dry-run", action="store_true", help="list file, source, size and licence, and the total")
    f.add_argument("--accept-licence", action="store_true",
                   help="accept the non-commercial and copyleft licences of the files fetched")
    f.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                   help="copy from a folder laid out as the weights folder (filled on another machine)")
    f.add_argument("--known-answers", action="store_true",
                   help="also fetch the publishers' reference inputs that `weights check` compares against")

    _command(sub, "doctor", "what this machine can produce of the paper's columns, and how to fix the rest",
             cmd_doctor)

    c = _command(wsub, "check", "run each official backend on its publisher's input and compare with the "
                 "published output", cmd_weights_check)
    c.add_argument("keys", nargs="*", type=_metric_key, help="backends to check (default: every official one)")
    c.add_argument("--device", default="cpu", help="torch device (default: cpu)")

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
    except BrokenPipeError:  # `harmony-bench report RUN | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UsageError, ValueError, KeyError) as exc:  # the command as typed cannot work
        print(f"harmony-bench: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as exc:  # it could not be carried out here and now
        print(f"harmony-bench: error: {_one_line(exc)}", file=sys.stderr)
        return 1


class UsageError(ValueError):
    pass


def _one_line(exc: BaseException) -> str:
    from harmony_bench.store import describe_os_error

    if isinstance(exc, OSError) and exc.filename:
        return describe_os_error(exc, exc.filename)
    return str(exc).strip()

if __name__ == "__main__":
    sys.exit(main())
