"""Command line: ``python -m luckbook list | run <experiment> ... | claims <experiment> ... |
golden two-layer ...``.

Exit codes: 0 success (for ``claims``: every claim holds), 1 (``claims`` only) a claim does not
hold or is inconclusive, 2 bad input (one line on stderr, no traceback), 3 training diverged.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .claims import HELD_OUT_START
from .config import SCALES, coerce, default_scale, field_names
from .experiments import REGISTRY, get_experiment, resolve_seeds
from .replay import NotStored
from .train import DivergenceError

ANNOUNCE_S = 10.0
"""Runs expected to take at least this long announce their estimated time and memory first."""


THREADS_HELP = (
    "torch threads (default: 1 for a run estimated under 10 s, else torch's default; "
    "or $LUCKBOOK_THREADS)"
)


def _parse_threads(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"--threads={text!r} is not allowed: expected an integer >= 1")
    return value


class UsageError(Exception):
    """Bad command-line input; reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parse_seeds(text: str) -> int | list[int]:
    try:
        if "," in text:
            return [int(t) for t in text.split(",") if t.strip()]
        return int(text)
    except ValueError:
        raise UsageError(
            f"--seeds={text!r} is not allowed: expected a count like 8 or a list like 0,3,5"
        ) from None


def _parse_sets(experiment: str, pairs: Sequence[str]) -> dict[str, Any]:
    cls = get_experiment(experiment).settings_cls
    names = field_names(cls)
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {pair!r} is not allowed: expected NAME=VALUE, e.g. --set m=10")
        if key not in names:
            raise UsageError(
                f"unknown parameter {key!r} for experiment {experiment!r}; "
                f"allowed: {', '.join(names)}"
            )
        out[key] = coerce(cls, key, raw)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def _finite(obj: Any) -> Any:
    """Replace NaN/inf by None so the JSON is standard."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _check_writable(path: Path) -> None:
    """Fail before the run, not after it, if the JSON cannot be written."""
    if path.is_dir():
        raise UsageError(f"--json={str(path)!r} is not allowed: it is a folder; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".luckbook-probe-"):
            pass
    except OSError as err:
        raise UsageError(
            f"--json={str(path)!r} is not allowed: cannot write there ({err.strerror})"
        ) from None


def _add_common(
    parser: argparse.ArgumentParser,
    *,
    set_help: str = "override a setting",
    seeds_help: str = "number of seeds, or a comma-separated list",
    device_help: str = "cpu (default), cuda, cuda:1, mps",
) -> None:
    """The arguments ``run``, ``claims`` and ``sweep`` share."""
    parser.add_argument("experiment", help="experiment name (see `luckbook list`)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help=set_help)
    parser.add_argument(
        "--scale",
        default=None,
        help=f"preset: {', '.join(SCALES)} (default $LUCKBOOK_SCALE or book)",
    )
    parser.add_argument("--seeds", default=None, help=seeds_help)
    parser.add_argument("--device", default="cpu", help=device_help)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """The arguments ``run`` and ``claims`` share after ``--json``."""
    parser.add_argument(
        "--no-cache", action="store_true", help="recompute even if a cached result exists"
    )
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    parser.add_argument("--threads", default=None, help=THREADS_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="luckbook", description="Run the experiments of the luckbook companion.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the experiments, their parameters and defaults per scale")
    run = sub.add_parser("run", help="run one experiment")
    _add_common(run)
    run.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="write the result as JSON here ('-' for stdout)",
    )
    _add_run_options(run)
    run.add_argument(
        "--estimate",
        action="store_true",
        help="print the estimated time and memory of the run and exit without running it",
    )
    claims = sub.add_parser(
        "claims",
        help="check an experiment's pre-registered claims (exit 0 if all hold, 1 if not)",
    )
    _add_common(
        claims,
        seeds_help="number of seeds, or a comma-separated list (default: the held-out block "
        f"from {HELD_OUT_START})",
    )
    claims.add_argument(
        "--control",
        default=None,
        metavar="NAME",
        help="evaluate the claims under a control instead (frozen, different-teacher, "
        "shuffled-labels, equal-strength, frozen-bias: what the experiment supports; "
        "'--control list' lists them); every evidence claim should then fail",
    )
    claims.add_argument(
        "--json", default=None, metavar="PATH", help="write the report as JSON ('-' for stdout)"
    )
    _add_run_options(claims)
    figures = sub.add_parser(
        "figures",
        help="write every figure of an experiment's chapter from the cached results "
        "(SVG, PDF or PNG, for slides); nothing is trained",
    )
    _add_common(figures, seeds_help="seeds of the cached run (default: the held-out block)")
    figures.add_argument("--format", default="svg", help="svg (default), pdf or png")
    figures.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    sweep = sub.add_parser(
        "sweep",
        help="run an experiment over a grid of settings × seed blocks on a Dask cluster "
        "(exit 1 if a task failed)",
    )
    _add_common(
        sweep, set_help="fix a setting", device_help="the workers' device: cpu (default), cuda"
    )
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="sweep a setting over these values (every combination of the --grid options runs)",
    )
    sweep.add_argument(
        "--seed-block",
        default=None,
        metavar="K",
        help="seeds per task, a multiple of 2 (default: all the seeds, one task per point)",
    )
    where = sweep.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", default=None, metavar="N", help="worker processes of the local cluster"
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="use an existing Dask cluster, e.g. tcp://10.0.0.5:8786",
    )
    sweep.add_argument("--retries", default="2", metavar="N", help="retries of a failing task")
    sweep.add_argument(
        "--json", default=None, metavar="PATH", help="write the results as JSON ('-' for stdout)"
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    paper = sub.add_parser(
        "paper-results",
        help="the paper-scale runs stored in the package: their claims re-evaluated from the "
        "stored arrays (no training), --verify or --refresh them",
    )
    paper.add_argument(
        "experiments",
        nargs="*",
        metavar="EXPERIMENT",
        help="experiments (default: every one with stored runs; with --refresh, name them)",
    )
    what = paper.add_mutually_exclusive_group()
    what.add_argument(
        "--verify",
        action="store_true",
        help="recompute one seed of each stored main run and compare it with the stored arrays "
        "(within float tolerance); a match marks the runs current for this code",
    )
    what.add_argument(
        "--refresh",
        action="store_true",
        help="recompute every run at paper scale on the held-out seeds and store it",
    )
    paper.add_argument(
        "--seeds", default=None, help="with --refresh: seeds (default: the held-out block)"
    )
    paper.add_argument("--device", default=None, help="cpu (default), cuda, cuda:1, mps")
    paper.add_argument("--threads", default=None, help=THREADS_HELP)
    paper.add_argument("--progress", action="store_true", help="show a progress bar")
    paper.add_argument(
        "--json", default=None, metavar="PATH", help="write the reports as JSON ('-' for stdout)"
    )
    golden = sub.add_parser(
        "golden",
        help="write a torch run that the book's JavaScript engine replays "
        "(node luckbook/assets/live/luck-engine.js replay PATH)",
    )
    golden.add_argument("preset", help="what to run: two-layer")
    golden.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    golden.add_argument("--scale", default="tiny", help="preset of the settings (default tiny)")
    golden.add_argument(
        "--seeds",
        default="1",
        help="a count like 2 (seeds 0, 1) or a list like 0,3 or 7, (default: seed 0)",
    )
    golden.add_argument("--steps", required=True, help="SGD steps")
    golden.add_argument("--json", required=True, metavar="PATH", help="where to write the golden")
    return parser


def _golden(args: argparse.Namespace) -> int:
    """``luckbook golden``: write the golden JSON (see :mod:`luckbook.golden`)."""
    from .golden import PRESETS, golden_settings, two_layer_golden

    if args.preset not in PRESETS:
        raise UsageError(
            f"preset={args.preset!r} is not allowed: expected one of {', '.join(PRESETS)}"
        )
    if args.scale not in SCALES:
        raise UsageError(
            f"--scale={args.scale!r} is not allowed: expected one of {', '.join(SCALES)}"
        )
    try:
        steps = int(args.steps)
    except ValueError:
        steps = 0
    if steps < 1:
        raise UsageError(f"--steps={args.steps!r} is not allowed: expected an integer >= 1")
    overrides = _parse_sets(args.preset, args.set)
    if "steps" in overrides:
        raise UsageError("--set steps=... is not allowed here: give --steps N")
    settings = golden_settings(args.scale, **overrides, steps=steps)
    seeds = resolve_seeds(_parse_seeds(args.seeds))
    path = Path(args.json)
    _check_writable(path)
    data = two_layer_golden(settings, seeds)
    path.write_text(json.dumps(data, separators=(",", ":")))
    runs = data["runs"]
    diverged = [
        f"seed {r['seed']} diverged at step {r['diverged_at']}"
        for r in runs
        if r["diverged_at"] is not None
    ]
    print(
        f"wrote {path}: {len(runs)} run(s), {steps} steps"
        + (f"; {', '.join(diverged)}" if diverged else "")
    )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    """``luckbook sweep``: everything is validated before a cluster starts; exit 0 if every
    task finished, 1 if one failed (the others are kept and listed)."""
    from .sweep import ClusterError, parse_grid, sweep

    experiment = get_experiment(args.experiment)
    scale = args.scale if args.scale is not None else default_scale()
    if scale not in SCALES:
        raise UsageError(f"--scale={scale!r} is not allowed: expected one of {', '.join(SCALES)}")
    grid = parse_grid(experiment.name, args.grid)
    overrides = _parse_sets(experiment.name, args.set)
    seeds = _parse_seeds(args.seeds) if args.seeds is not None else None

    def count(option: str, text: str | None, minimum: int) -> int | None:
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            raise UsageError(
                f"{option}={text!r} is not allowed: expected an integer >= {minimum}"
            ) from None

    if args.json and args.json != "-":
        _check_writable(Path(args.json))
    try:
        result = sweep(
            experiment.name,
            grid,
            scale=scale,
            seeds=seeds,
            seed_block=count("--seed-block", args.seed_block, 2),
            device=args.device,
            workers=count("--workers", args.workers, 1),
            scheduler=args.scheduler,
            retries=count("--retries", args.retries, 0),
            progress=not args.no_progress,
            **overrides,
        )
    except ClusterError as err:
        print(f"luckbook: {err}", file=sys.stderr)
        return 1
    code = 0 if result.ok else 1
    data = _finite(result.to_json())
    if args.json == "-":
        json.dump(data, sys.stdout, indent=1, default=_json_default)
        print()
        return code
    print(result.summary())
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1, default=_json_default))
        print(f"wrote {args.json}")
    return code


def _claims(args: argparse.Namespace, scale: str, overrides: dict[str, Any]) -> int:
    """``luckbook claims``: print the report (or write its JSON). Exit 0 iff every verdict is
    the registered prediction and no control passes a claim predicted to hold; with
    ``--control NAME``, exit 0 iff every claim holds under the control (so a control that
    fails the claims, as it should, exits 1)."""
    from .claims import claims_of

    experiment = get_experiment(args.experiment)
    if args.control == "list":
        for name in experiment.controls:
            print(f"{name}: {experiment.control_description(name)}")
        return 0
    if args.control is not None and args.control not in experiment.controls:
        raise UsageError(
            f"--control={args.control!r} is not allowed for {experiment.name}: expected one of "
            f"{', '.join(experiment.controls)}"
        )
    if not claims_of(experiment.name):
        raise UsageError(
            f"experiment={experiment.name!r} has no registered claims; "
            "see the reproducibility page for those that do"
        )
    seeds = _parse_seeds(args.seeds) if args.seeds is not None else None
    if seeds is not None:
        seeds = resolve_seeds(seeds)
    if args.json and args.json != "-":
        _check_writable(Path(args.json))
    plan = experiment.plan(scale=scale, seeds=seeds, device=args.device, **overrides)
    _announce(experiment, plan, scale, seeds, args.device, overrides)
    report = experiment.claims(
        scale=scale,
        seeds=seeds,
        device=args.device,
        control=args.control,
        progress=args.progress,
        cache=not args.no_cache,
        threads=_parse_threads(args.threads),
        **overrides,
    )
    ok = report.all_hold if args.control is not None else report.as_predicted
    code = 0 if ok else 1
    if args.json == "-":
        json.dump(report.to_json(), sys.stdout, indent=1)
        print()
        return code
    print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=1))
        print(f"wrote {args.json}")
    return code


def _announce(
    experiment: Any,
    plan: Any,
    scale: str,
    seeds: Any,
    device: str | None,
    overrides: dict[str, Any],
) -> None:
    """Refuse a run that cannot fit in memory (one line, before any work: the run would check
    the same estimate), then print a long run's estimate."""
    if plan is None:
        return
    from .config import resolve_device
    from .resources import check_memory

    count = len(resolve_seeds(experiment.default_seeds[scale] if seeds is None else seeds))
    settings = experiment.settings(scale, **overrides)
    check_memory(plan.bytes, resolve_device(device), settings, count)
    if plan.seconds >= ANNOUNCE_S:
        print(f"luckbook: {plan.describe()}", file=sys.stderr)


def _figures(args: argparse.Namespace, scale: str, overrides: dict[str, Any]) -> int:
    """``luckbook figures``: one file per chapter figure from the cached result."""
    from .figures import FORMATS, write_figures

    if args.format not in FORMATS:
        raise UsageError(
            f"--format={args.format!r} is not allowed: expected one of {', '.join(FORMATS)}"
        )
    if overrides:
        raise UsageError("--set is not allowed with figures: it draws the chapter's own run")
    seeds = resolve_seeds(_parse_seeds(args.seeds)) if args.seeds is not None else None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out={args.out!r} is not allowed: it is a file; give a folder")
    for path in write_figures(
        args.experiment, out, fmt=args.format, scale=scale, seeds=seeds, device=args.device
    ):
        print(path)
    return 0


def _paper_results(args: argparse.Namespace) -> int:
    """``luckbook paper-results``: report, verify or refresh the stored paper-scale runs."""
    from . import paper_store

    names = list(args.experiments)
    for name in names:
        get_experiment(name)  # a one-line error for an unknown name
    if args.refresh and not names:
        raise UsageError("--refresh needs the experiments to recompute, e.g. --refresh fanout")
    if args.seeds is not None and not args.refresh:
        raise UsageError("--seeds is only allowed with --refresh")
    threads = _parse_threads(args.threads)
    names = names or paper_store.stored()
    if not names:
        print(f"no paper-scale runs are stored in {paper_store.store_dir()}")
        return 0
    missing = [n for n in names if paper_store.load_record(n) is None and not args.refresh]
    if missing:
        raise UsageError(
            f"experiment={missing[0]!r} has no stored paper-scale runs: stored are "
            f"{', '.join(paper_store.stored()) or 'none'} (--refresh {missing[0]} computes them)"
        )
    if args.json and args.json != "-":
        _check_writable(Path(args.json))
    code, out = 0, {}
    for name in names:
        if args.refresh:
            seeds = resolve_seeds(_parse_seeds(args.seeds)) if args.seeds is not None else None
            plan = get_experiment(name).plan(scale="paper", seeds=seeds, device=args.device)
            if plan is not None:
                print(
                    f"luckbook: {name}: {plan.describe()} (plus its control runs)", file=sys.stderr
                )
            paper_store.refresh(
                name, seeds=seeds, device=args.device, threads=threads, progress=args.progress
            )
        if args.verify:
            check = paper_store.verify(
                name, write=True, device=args.device, threads=threads, progress=args.progress
            )
            verdict = "reproduced" if check["ok"] else "DIFFERS"
            print(
                f"{name}: seed {check['seed']} recomputed in {check['seconds']:.0f} s: {verdict} "
                f"({check['arrays']} arrays, largest relative difference "
                f"{check['max_rel_diff']:.2g}"
                + (f"; differing: {', '.join(check['mismatched'])}" if check["mismatched"] else "")
                + ")"
            )
            code = code if check["ok"] else 1
        report = paper_store.report(name)
        out[name] = {**report.to_json(), "provenance": paper_store.describe(name)}
        if args.json != "-":
            print(paper_store.describe(name))
            print(report)
            print()
        code = code if report.as_predicted else max(code, 1)
    if args.json == "-":
        json.dump(out, sys.stdout, indent=1)
        print()
    elif args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return code


def _summary(result: Any) -> str:
    summary = getattr(result, "summary", None)
    if callable(summary):
        return summary()
    data = result.to_json()
    lines = [
        f"{data['experiment']}: {len(data['seeds'])} seeds on {data['device']}, "
        f"training {data['wall_time_s']:.1f} s"
    ]
    for row in data["seeds"]:
        cov = row.get("covered", {})
        top = max(cov, key=float) if cov else None
        cov_txt = f"covered@{top}={cov[top]}/{len(row['teacher_best_corr'])}  " if top else ""
        lines.append(f"  seed {row['seed']:>3}: {cov_txt}eval_loss={row['eval_loss']:.3g}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            for name in sorted(REGISTRY):
                print(REGISTRY[name].describe())
                print()
            return 0
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "golden":
            return _golden(args)
        if args.command == "paper-results":
            return _paper_results(args)
        experiment = get_experiment(args.experiment)
        scale = args.scale if args.scale is not None else default_scale()
        if scale not in SCALES:
            raise UsageError(
                f"--scale={scale!r} is not allowed: expected one of {', '.join(SCALES)}"
            )
        overrides = _parse_sets(args.experiment, args.set)
        if args.command == "claims":
            return _claims(args, scale, overrides)
        if args.command == "figures":
            return _figures(args, scale, overrides)
        seeds = _parse_seeds(args.seeds) if args.seeds is not None else None
        if args.json and args.json != "-":
            _check_writable(Path(args.json))
        plan = experiment.plan(scale=scale, seeds=seeds, device=args.device, **overrides)
        if args.estimate:
            print(plan.describe() if plan else f"{experiment.name}: no estimate is defined")
            return 0
        _announce(experiment, plan, scale, seeds, args.device, overrides)
        threads = _parse_threads(args.threads)
        result = experiment.run(
            scale=scale,
            seeds=seeds,
            device=args.device,
            progress=args.progress,
            cache=not args.no_cache,
            threads=threads,
            **overrides,
        )
    except (UsageError, ValueError) as err:
        print(f"luckbook: error: {err}", file=sys.stderr)
        return 2
    except NotStored as err:  # a stored paper-scale run is missing
        print(f"luckbook: error: {err}", file=sys.stderr)
        return 2
    except DivergenceError as err:
        print(f"luckbook: {err}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("luckbook: interrupted", file=sys.stderr)
        return 130
    data = _finite(result.to_json())
    data["scale"] = scale
    if args.json == "-":
        json.dump(data, sys.stdout, indent=1, default=_json_default)
        print()
        return 0
    print(_summary(result))
    if args.json:
        path = Path(args.json)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, indent=1, default=_json_default))
        except OSError as err:
            print(
                f"luckbook: error: --json={args.json!r} cannot be written: {err.strerror}",
                file=sys.stderr,
            )
            return 2
        print(f"wrote {path}")
    return 0
