"""Store runs recorded with ``$LUCKBOOK_RECORD_DIR`` as an experiment's paper-scale runs.

``luckbook paper-results --refresh EXP`` computes and stores in one go. A long run can instead
be made in the background from a fixed commit, recording every run it makes::

    LUCKBOOK_RECORD_DIR=rec/fanout LUCKBOOK_CACHE=off python -m luckbook claims fanout \\
        --scale paper --json fanout.json

and stored afterwards, with the provenance of the code that computed it::

    python tools/store_paper_runs.py fanout rec/fanout fanout.json --commit SHA \\
        --fingerprint FP --wall-time 312 [--load "2.1 1.9 1.7"]

(``FP`` is ``luckbook.paper_store.code_fingerprint(EXP)`` at that commit.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from luckbook import paper_store, replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment")
    parser.add_argument("recorded", type=Path, help="the $LUCKBOOK_RECORD_DIR of the run")
    parser.add_argument("report", type=Path, help="the claims --json of the same run")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--fingerprint", required=True)
    parser.add_argument("--wall-time", type=float, required=True, help="seconds, end to end")
    parser.add_argument("--load", default="", help="the load average while it ran")
    args = parser.parse_args()
    runs = [replay.read_run(p) for p in sorted(args.recorded.glob(f"{args.experiment}-*.npz"))]
    report = json.loads(args.report.read_text())
    if report["experiment"] != args.experiment:
        raise SystemExit(f"{args.report} is not a report of {args.experiment}")
    if report["scale"] != "paper":  # made with --set: its main run must have today's preset
        from luckbook.cache import _jsonable
        from luckbook.experiments import get_experiment

        preset = _jsonable(get_experiment(args.experiment).settings("paper"))
        if not any(_jsonable(r.settings) == preset for r in runs):
            raise SystemExit(f"{args.report} is not a run of {args.experiment}'s paper preset")
        report["scale"] = "paper"
    record = paper_store.write(
        args.experiment,
        runs,
        seeds=report["seeds"],
        commit=args.commit,
        fingerprint=args.fingerprint,
        wall_time_s=args.wall_time,
        load_average=args.load,
        report=report,
    )
    print(paper_store.describe(record.experiment))


if __name__ == "__main__":
    main()
