"""Pre-flight: a run that cannot fit in memory is refused in one line before any work.

For every experiment and every setting that sizes a run (widths, batch, sample counts,
steps, epochs, seeds …), an absurd value must end in a one-line ``luckbook: error:`` (exit
2) that names it, from validation or from the memory check of the run's estimate
(:func:`luckbook.resources.check_memory`) — never an allocator traceback. The experiments'
``compute`` is replaced by a function that fails the test, so nothing is trained, and the
estimates time only small capped shapes (:func:`luckbook.costs.capped`), so nothing large is
allocated either.
"""

from __future__ import annotations

import dataclasses

import pytest

from luckbook import cli
from luckbook.experiments import REGISTRY

HUGE = 10**12

SIZES: dict[str, tuple[str, ...]] = {
    "bn-bias": ("channels", "hidden", "epochs"),
    "deep-specialization": (
        *("m", "d", "multi", "d_output", "batch", "epochs", "n_train", "n_eval"),
        *("n_beta", "log_snapshots"),
    ),
    "deep-teacher": (
        *("m", "d", "multi", "d_output", "batch", "epochs", "n_train", "n_eval"),
        *("snapshots_per_epoch", "log_snapshots"),
    ),
    "directional": ("d", "n_train", "m", "width", "depth", "kkt_starts"),
    "fanout": ("d", "m", "c", "multi", "batch", "steps", "n_eval", "n_snapshots", "retrain_steps"),
    "gradient-relation": (
        *("m", "d", "c", "multi", "n_check", "batch_sizes", "n_repeats", "n_matrix"),
        "n_overlap",
    ),
    "lucky": ("d", "m", "c", "multi", "batch", "steps", "n_eval", "n_snapshots"),
    "real-teacher": ("m", "multis", "n_train", "batch", "steps", "n_snapshots"),
    "sample-complexity": (
        *("d", "c", "m", "multi", "batch", "steps", "n_eval", "n_snapshots", "n_trains"),
    ),
    "two-layer": (*("d", "c", "m", "multi", "batch", "steps", "n_eval", "n_snapshots", "n_train"),),
    "two-layer-sweep": (
        *("d", "c", "ms", "multis", "batch", "steps", "n_eval", "n_snapshots", "n_train"),
    ),
}
"""Per experiment, the integer settings the run's memory grows with."""

NOT_SIZES: dict[str, dict[str, str]] = {
    "bn-bias": {
        "batch": "a batch larger than the training split is the whole split",
        "shuffle_stream": "a seed",
        "split_seed": "a seed",
    },
    "deep-specialization": {
        "depth": "bounded by the widths given",
        "lr_drop_epoch": "a time in the schedule",
        "snapshot_every": "a spacing: larger means fewer snapshots",
    },
    "deep-teacher": {"depth": "bounded by the widths given"},
    "directional": {
        "max_steps": "an upper bound; the run stops at stop_loss, records as it goes",
        "record_every": "a spacing: larger means fewer records",
        "kkt_steps": "time only: the ascent keeps one iterate",
    },
    "gradient-relation": {"depth": "bounded by the widths given"},
    "lucky": {"permutations": "time only: a permutation test on a few numbers"},
    "real-teacher": {
        "depth": "bounded by the widths given",
        "teacher_epochs": "time only: nothing is kept per epoch",
        "teacher_batch": "a batch larger than the training split takes no step",
        "split_seed": "a seed",
    },
    "sample-complexity": {"n_codes": "a choice (5 or 9)"},
    "two-layer": {"n_codes": "a choice (5 or 9)"},
    "two-layer-sweep": {
        "n_codes": "a choice (5 or 9)",
        "claim_m": "read by the claims and control runs, not by this run",
        "lshape_steps": "read by the L-shape panel's own run, not by this run",
    },
}
"""Integer settings that do not size the run, and why."""


def _int_fields(settings: object) -> list[str]:
    out = []
    for f in dataclasses.fields(settings):
        v = getattr(settings, f.name)
        if isinstance(v, bool):
            continue
        if isinstance(v, int) or (isinstance(v, tuple) and v and all(type(x) is int for x in v)):
            out.append(f.name)
    return out


def test_every_integer_setting_is_classified():
    assert set(SIZES) == set(REGISTRY), "a new experiment needs its size settings listed here"
    for name, exp in REGISTRY.items():
        fields = set(_int_fields(exp.settings("tiny")))
        listed = set(SIZES[name]) | set(NOT_SIZES.get(name, {}))
        assert fields == listed, (name, fields ^ listed)


def _no_training(monkeypatch) -> None:
    def fail(*args, **kwargs):
        pytest.fail("the run was not refused before computing")

    for name, exp in list(REGISTRY.items()):
        monkeypatch.setitem(REGISTRY, name, dataclasses.replace(exp, compute=fail))


def _huge(settings: object, field: str) -> str:
    value = getattr(settings, field)
    if isinstance(value, tuple):  # the first entry is used at every depth
        return ",".join(str(v) for v in (HUGE, *value[1:]))
    return str(HUGE)


def _assert_refused(capsys, args: list[str], text: str) -> None:
    assert cli.main(args) == 2, args
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("luckbook: error:"), captured.err
    assert text in lines[0], (args, lines[0])
    assert "Traceback" not in captured.err + captured.out


CASES = [(name, field) for name in sorted(SIZES) for field in SIZES[name]]


@pytest.mark.parametrize(("name", "field"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_absurd_size_is_refused_in_one_line(name, field, capsys, monkeypatch):
    _no_training(monkeypatch)
    settings = REGISTRY[name].settings("tiny")
    value = _huge(settings, field)
    args = ["run", name, "--scale", "tiny", "--no-cache", "--set", f"{field}={value}"]
    _assert_refused(capsys, args, field)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_absurd_seed_count_is_refused_in_one_line(name, capsys, monkeypatch):
    _no_training(monkeypatch)
    _assert_refused(
        capsys, ["run", name, "--scale", "tiny", "--no-cache", "--seeds", "1000000"], "seeds"
    )


def test_estimates_allocate_little():
    """An estimate at absurd widths times capped shapes: its own peak memory stays small."""
    from luckbook import costs

    w, b, factor = costs.capped([HUGE, HUGE, 10], HUGE)
    assert max(w) <= 2048 and b * (max(w) + 1) <= costs.TIMING_ELEMENTS and factor > 1e12
    w, b, factor = costs.capped([20, 100, 10], 64)
    assert (w, b, factor) == ([20, 100, 10], 64, 1.0)


def test_estimates_print_readable_rates():
    """No estimate prints a rate or a count that rounds to zero (``0.0 GFLOP/s``)."""
    import re

    from luckbook import costs

    assert costs.gflops(4.3e7) == "43 MFLOP/s" and costs.gflops(4.8e10) == "48 GFLOP/s"
    for name, exp in sorted(REGISTRY.items()):
        text = exp.plan(scale="tiny").describe()
        assert not re.search(r"(?<![\d.])0(\.0+)? [GMT]?FLOP", text), (name, text)
