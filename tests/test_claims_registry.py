"""The registry audited: kinds, predictions, controls that could pass, and the commit that
registered each claim (``luckbook/claims/registered.json``, written by
``tools/register_claims.py`` after the claim's record was committed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import luckbook as lb
from luckbook.claims import CLAIMS, registrations

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_every_claim_has_a_kind_a_prediction_and_valid_controls(claim_id):
    c = CLAIMS[claim_id]
    exp = lb.get_experiment(c.experiment)
    names = c.control_names(exp.result_cls.CONTROLS)
    for name in names:
        assert name in exp.controls, f"{claim_id}: control {name!r} not in {exp.controls}"
    if c.kind == "evidence":
        # a control that could pass: not only the frozen student (zero or undefined by design)
        assert [n for n in names if n != "frozen"], (
            f"{claim_id} is evidence but names no control other than 'frozen': {names}"
        )


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_every_claim_is_registered_as_it_reads(claim_id):
    c = CLAIMS[claim_id]
    assert c.registered != "unregistered", (
        f"{claim_id} changed since it was registered: commit it, then run "
        "python tools/register_claims.py and commit luckbook/claims/registered.json"
    )


def _git(*args: str) -> str | None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def test_registered_commits_touched_the_claims_module():
    """Each registration names a commit of this repository that changed the claim's module
    (so the record existed, committed, at that point of the history)."""
    if _git("rev-parse", "--is-shallow-repository") in (None, "true"):
        pytest.skip("needs the repository's full history")
    for claim_id, entry in registrations().items():
        c = CLAIMS.get(claim_id)
        if c is None:
            continue
        module = f"luckbook/claims/{c.experiment.replace('-', '_')}.py"
        touched = _git("show", "--name-only", "--format=", entry["commit"])
        assert touched is not None, f"{claim_id}: commit {entry['commit']} is not in the history"
        assert module in touched.split(), f"{claim_id}: {entry['commit']} did not touch {module}"


def test_register_tool_check_mode_agrees():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "register_claims.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
