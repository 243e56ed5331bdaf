"""Record the commit that registered each claim (``luckbook/claims/registered.json``).

A claim is registered by committing its record (``luckbook/claims/<experiment>.py``) *before*
any run on the held-out seeds. Run this after that commit: for every claim whose prediction
(statistic, threshold, direction, kind, expected, controls; see ``Claim.fingerprint``) is new
or changed, it records the commit that registered it (the oldest commit of the latest
unbroken run of commits of its module in which the claim reads as it does now, so that
later edits that leave the claim as it is do not move its registration); then commit the
JSON.
``--check`` only reports claims whose record changed since their registration (exit 1).

    python tools/register_claims.py           # after committing changed claims
    python tools/register_claims.py --check   # what tests/test_claims_registry.py checks
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "luckbook" / "claims" / "registered.json"


def module_of(experiment: str) -> str:
    return f"luckbook/claims/{experiment.replace('-', '_')}.py"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def fingerprints_at(commit: str, module: str) -> dict[str, str]:
    """``{claim id: fingerprint}`` of the claims ``module`` registers at ``commit`` (empty if
    the module did not exist there or does not load with today's ``Claim``)."""
    import types

    from luckbook.claims import core

    try:
        source = git("show", f"{commit}:{module}")
    except subprocess.CalledProcessError:
        return {}
    found: list = []
    stub = types.ModuleType("luckbook.claims.core")
    stub.__dict__.update(core.__dict__)
    stub._register = lambda *claims: found.extend(claims)  # type: ignore[attr-defined]
    namespace = {"__name__": "luckbook.claims._at_commit", "__package__": "luckbook.claims"}
    saved = sys.modules.get("luckbook.claims.core")
    sys.modules["luckbook.claims.core"] = stub
    try:
        exec(compile(source, f"{commit[:12]}:{module}", "exec"), namespace)
    except Exception:  # noqa: BLE001 - an old version that no longer loads has no claims
        return {}
    finally:
        if saved is not None:
            sys.modules["luckbook.claims.core"] = saved
    return {c.id: c.fingerprint() for c in found}


def registering_commit(claim_id: str, fingerprint: str, module: str) -> tuple[str, str]:
    """The oldest commit of the latest unbroken run of commits (touching ``module``, newest
    first) at which the claim reads as it does now: the commit that registered it."""
    history = git("log", "--format=%H %cs", "--", module).splitlines()
    chosen = None
    for line in history:  # newest first
        commit, date = line.split()
        if fingerprints_at(commit, module).get(claim_id) != fingerprint:
            break
        chosen = (commit, date)
    if chosen is None:  # not in any commit: the last one that touched the module
        commit, date = history[0].split()
        chosen = (commit, date)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="report unregistered claims only")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from luckbook.claims import CLAIMS

    stored = json.loads(PATH.read_text()) if PATH.exists() else {}
    stale = [
        c for c in CLAIMS.values() if stored.get(c.id, {}).get("fingerprint") != c.fingerprint()
    ]
    if args.check:
        for c in stale:
            print(f"unregistered: {c.id} (its record changed; commit it, then run this tool)")
        return 1 if stale else 0
    dirty = set(git("status", "--porcelain", "--", "luckbook/claims").splitlines())
    out = {k: v for k, v in stored.items() if k in CLAIMS}
    for c in stale:
        module = module_of(c.experiment)
        if any(line.endswith(module) for line in dirty):
            print(
                f"register_claims: commit {module} first ({c.id} is not committed)", file=sys.stderr
            )
            return 1
        commit, date = registering_commit(c.id, c.fingerprint(), module)
        out[c.id] = {"commit": commit[:12], "date": date, "fingerprint": c.fingerprint()}
        print(f"registered {c.id} at {commit[:12]} ({date})")
    ordered = {cid: out[cid] for cid in CLAIMS if cid in out}
    PATH.write_text(json.dumps(ordered, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
