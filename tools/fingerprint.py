"""Fingerprint every experiment's numbers: run each at ``tiny`` scale (no cache) and print,
per experiment, a SHA-256 of every array and number its result holds.

Refactors must not change numbers: run this before and after and compare the two files::

    python tools/fingerprint.py > before.json   # on the old commit
    python tools/fingerprint.py > after.json    # on the new one
    python tools/fingerprint.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from typing import Any

import numpy as np
import torch


def _leaves(value: Any, path: str, out: dict[str, str]) -> None:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        out[path] = (
            f"{arr.dtype}{list(arr.shape)}:" + hashlib.sha256(arr.tobytes()).hexdigest()[:16]
        )
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name in ("settings",) or f.name.endswith("time_s"):
                continue
            _leaves(getattr(value, f.name), f"{path}.{f.name}", out)
    elif isinstance(value, dict):
        for k, v in value.items():
            _leaves(v, f"{path}[{k!r}]", out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _leaves(v, f"{path}[{i}]", out)
    elif isinstance(value, (int, float, str, bool, np.generic)) or value is None:
        out[path] = repr(value.item() if isinstance(value, np.generic) else value)


def fingerprint(names: list[str]) -> dict[str, dict[str, str]]:
    import luckbook as lb

    result = {}
    for name in names:
        print(f"fingerprint: {name}", file=sys.stderr, flush=True)
        res = lb.run(name, scale="tiny", cache=False, threads=1)
        leaves: dict[str, str] = {}
        _leaves(res, "result", leaves)
        report = lb.claims(name, scale="tiny", cache=False, threads=1).to_json()
        for row in report["claims"]:
            for k in ("value", "ci_low", "ci_high", "control_value", "verdict"):
                leaves[f"claims.{row['id']}.{k}"] = repr(row.get(k))
        result[name] = leaves
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="experiments (default: all)")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        a, b = (json.load(open(p)) for p in args.compare)
        bad = 0
        for name in sorted(set(a) | set(b)):
            la, lb_ = a.get(name, {}), b.get(name, {})
            vals_a, vals_b = sorted(la.values()), sorted(lb_.values())
            same = vals_a == vals_b
            print(
                f"{name:<22} {'identical' if same else 'DIFFERENT'} ({len(la)} / {len(lb_)} leaves)"
            )
            if not same:
                bad += 1
                for k in sorted(set(la) | set(lb_)):
                    if la.get(k) != lb_.get(k):
                        print(f"    {k}: {la.get(k)} -> {lb_.get(k)}")
        sys.exit(1 if bad else 0)
    import luckbook as lb

    names = args.names or sorted(lb.REGISTRY)
    json.dump(fingerprint(names), sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
