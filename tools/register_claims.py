"""Record the commit that registered each claim (``luckbook/claims/registered.json``).

A claim is registered by committing its record (``luckbook/claims/<experiment>.py``) *before*
any run on the held-out seeds. Run this after that commit: for every claim whose prediction
(statistic, threshold, direction, kind, expected, controls; see ``Claim.fingerprint``) is new
or changed, it records the last commit that touched the claim's module, then commit the JSON.
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
        commit, date = git("log", "-1", "--format=%H %cs", "--", module).split()
        out[c.id] = {"commit": commit[:12], "date": date, "fingerprint": c.fingerprint()}
        print(f"registered {c.id} at {commit[:12]} ({date})")
    ordered = {cid: out[cid] for cid in CLAIMS if cid in out}
    PATH.write_text(json.dumps(ordered, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
