"""``python -m luckbook``: list, run, JSON output, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from luckbook import cli

RUN = [
    "run",
    "two-layer",
    "--scale",
    "tiny",
    "--set",
    "steps=200",
    "--set",
    "n_snapshots=2",
    "--seeds",
    "2",
]

# (arguments, text the one-line error must contain, also run as a real subprocess?)
# A subprocess costs ~1.5 s (importing torch), so only the main cases run as a real process;
# every case runs in-process.
BAD = [
    (["run", "two-layer", "--scale", "tiny", "--set", "multi=0"], "multi=0", True),
    (["run", "two-layer", "--scale", "tiny", "--set", "multi=1.5"], "multi=", False),
    (["run", "two-layer", "--scale", "tiny", "--set", "foo=1"], "foo", True),
    (["run", "two-layer", "--scale", "tiny", "--set", "lr=inf"], "lr=inf", True),
    (["run", "two-layer", "--scale", "tiny", "--set", "lr=fast"], "lr=", False),
    (["run", "two-layer", "--scale", "tiny", "--set", "taus=0.5,1.0"], "taus=1.0", False),
    (["run", "two-layer", "--scale", "huge"], "--scale='huge'", True),
    (["run", "two-layer", "--scale", "tiny", "--device", "tpu"], "device='tpu'", True),
    (["run", "two-layer", "--scale", "tiny", "--seeds", "x"], "--seeds='x'", True),
    (["run", "two-layer", "--scale", "tiny", "--seeds", "0"], "seeds=0", False),
    (["run", "two-layer", "--scale", "tiny", "--set", "m"], "--set 'm'", True),
    (["run", "nope", "--scale", "tiny"], "experiment='nope'", True),
    (["run"], "experiment", False),
    (["frobnicate"], "frobnicate", False),
]
BAD_IDS = [" ".join(args) for args, _, _ in BAD]


def _env():
    env = dict(os.environ)  # LUCKBOOK_CACHE_DIR is already the test's tmp folder
    env["OMP_NUM_THREADS"] = "1"
    return env


def luckbook(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "luckbook", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=120,
    )


def _assert_one_line_error(stderr, stdout, text):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("luckbook: error:"), stderr
    assert text in lines[0], stderr
    assert "Traceback" not in stderr + stdout


def _check_result(data, n_seeds=2):
    assert data["experiment"] == "two-layer"
    settings = data["settings"]
    assert settings["steps"] == 200 and settings["n_snapshots"] == 2
    assert settings["m"] == 5 and settings["multi"] == 2 and settings["d"] == 20
    assert settings["lr"] == 0.01 and settings["dtype"] == "float64"
    assert settings["taus"] == [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    assert data["device"] == "cpu"
    assert isinstance(data["wall_time_s"], float) and data["wall_time_s"] >= 0
    assert len(data["seeds"]) == n_seeds
    m, n = settings["m"], settings["m"] * settings["multi"]
    for i, row in enumerate(data["seeds"]):
        assert row["seed"] == i
        assert len(row["teacher_best_corr"]) == m
        assert len(row["student_best_corr"]) == n
        assert len(row["student_fanout"]) == n
        assert all(-1 <= c <= 1 for c in row["teacher_best_corr"] + row["student_best_corr"])
        assert set(row["covered"]) == {"0.5", "0.6", "0.7", "0.8", "0.9", "0.95"}
        assert all(isinstance(v, int) and 0 <= v <= m for v in row["covered"].values())
        counts = [row["covered"][k] for k in ("0.5", "0.6", "0.7", "0.8", "0.9", "0.95")]
        assert counts == sorted(counts, reverse=True)
        assert row["covered"]["0.5"] == sum(c > 0.5 for c in row["teacher_best_corr"])
        assert isinstance(row["train_loss"], float) and row["train_loss"] > 0
        assert isinstance(row["eval_loss"], float) and row["eval_loss"] > 0


# ----------------------------------------------------------------------------- subprocess


def test_list():
    proc = luckbook("list")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "two-layer" in out and "E4" in out
    for name in ("multi", "lr", "steps", "taus", "init_scale", "data_std"):
        assert name in out
    assert "tiny=4000" in out  # the per-scale defaults are listed
    assert proc.stderr == ""


def test_run_writes_json(tmp_path):
    out = tmp_path / "sub" / "out.json"
    proc = luckbook(*RUN, "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "seed" in proc.stdout and str(out) in proc.stdout
    data = json.loads(out.read_text())
    _check_result(data)
    assert data["scale"] == "tiny"


def test_run_json_to_stdout():
    proc = luckbook(*RUN, "--json", "-", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    _check_result(json.loads(proc.stdout))


@pytest.mark.parametrize(
    "args, text",
    [(a, t) for a, t, sub in BAD if sub],
    ids=[i for i, (_, _, sub) in zip(BAD_IDS, BAD, strict=True) if sub],
)
def test_bad_input_subprocess(args, text):
    proc = luckbook(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    _assert_one_line_error(proc.stderr, proc.stdout, text)
    assert proc.stdout == ""


def test_divergence_subprocess():
    proc = luckbook(*RUN, "--set", "lr=100", "--no-cache")
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("luckbook:")
    assert "lr=100" in proc.stderr
    assert "step " in proc.stderr and "seed " in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


# ----------------------------------------------------------------------------- in-process


@pytest.mark.parametrize("args, text", [(a, t) for a, t, _ in BAD], ids=BAD_IDS)
def test_bad_input_in_process(capsys, args, text):
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    _assert_one_line_error(captured.err, captured.out, text)


def test_divergence_in_process(capsys):
    assert cli.main([*RUN, "--set", "lr=100", "--no-cache"]) == 3
    err = capsys.readouterr().err
    assert "lr=100" in err and "diverged at step" in err


def test_json_to_stdout_in_process(capsys):
    assert cli.main([*RUN, "--json", "-", "--seeds", "0,3", "--no-cache"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [row["seed"] for row in data["seeds"]] == [0, 3]


def test_json_into_a_folder_is_rejected_before_running(tmp_path, capsys, monkeypatch):
    import luckbook.experiments.two_layer as two_layer

    monkeypatch.setattr(two_layer, "build", lambda *a, **k: pytest.fail("ran before checking"))
    assert cli.main([*RUN, "--json", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    _assert_one_line_error(captured.err, captured.out, "--json=")


def test_run_uses_cache(capsys, cache_dir, monkeypatch):
    import luckbook.experiments.two_layer as two_layer

    calls = []
    real = two_layer.build
    monkeypatch.setattr(two_layer, "build", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert cli.main([*RUN, "--json", "-"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert cli.main([*RUN, "--json", "-"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert len(calls) == 1
    assert first["seeds"] == second["seeds"]
    assert cli.main([*RUN, "--json", "-", "--no-cache"]) == 0
    assert len(calls) == 2
    assert any(cache_dir.rglob("*.entry"))


def test_scale_from_env(capsys, monkeypatch):
    monkeypatch.setenv("LUCKBOOK_SCALE", "tiny")
    args = [
        "run",
        "two-layer",
        "--set",
        "steps=50",
        "--set",
        "n_snapshots=1",
        "--seeds",
        "1",
        "--json",
        "-",
        "--no-cache",
    ]
    assert cli.main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scale"] == "tiny" and data["settings"]["d"] == 20


def _with_estimate(monkeypatch, seen):
    """Give ``two-layer`` a fake cost model that records what it was asked."""
    import dataclasses

    from luckbook.experiments import REGISTRY, Estimate

    def estimate(settings, n_seeds, device):
        seen.append((settings.steps, n_seeds, device.type))
        return Estimate(seconds=5400.0, bytes=3 * 2**30, basis="test model")

    monkeypatch.setitem(
        REGISTRY, "two-layer", dataclasses.replace(REGISTRY["two-layer"], estimate=estimate)
    )


def test_estimate_only_prints_and_does_not_run(capsys, monkeypatch):
    import luckbook.experiments.two_layer as two_layer

    seen = []
    _with_estimate(monkeypatch, seen)
    monkeypatch.setattr(two_layer, "build", lambda *a, **k: pytest.fail("--estimate ran"))
    assert cli.main([*RUN, "--estimate"]) == 0
    out = capsys.readouterr().out
    assert "90 min" in out and "3.0 GiB" in out and "test model" in out
    assert seen == [(200, 2, "cpu")]


def test_estimate_is_printed_before_a_run(capsys, monkeypatch):
    seen = []
    _with_estimate(monkeypatch, seen)
    assert cli.main([*RUN, "--no-cache"]) == 0
    err = capsys.readouterr().err
    assert "estimated time" in err and len(seen) >= 1  # the CLI announces it, run() checks memory


def test_short_runs_do_not_announce_an_estimate(capsys, monkeypatch):
    import dataclasses

    from luckbook.experiments import REGISTRY, Estimate

    quick = dataclasses.replace(
        REGISTRY["two-layer"], estimate=lambda *a: Estimate(seconds=2.0, bytes=2**20, basis="x")
    )
    monkeypatch.setitem(REGISTRY, "two-layer", quick)
    assert cli.main([*RUN, "--no-cache"]) == 0
    assert "estimated" not in capsys.readouterr().err


def test_estimate_checks_input_first(capsys):
    assert cli.main(["run", "two-layer", "--scale", "tiny", "--set", "multi=0", "--estimate"]) == 2
    _assert_one_line_error(capsys.readouterr().err, "", "multi=0")


def test_estimate_describe_units():
    from luckbook.experiments import Estimate

    assert (
        Estimate(30, 5 * 2**20, "x").describe().startswith("estimated time ≈ 30 s, memory ≈ 5 MiB")
    )
    assert "2.0 h" in Estimate(7200, 2**31, "x").describe()


def test_an_estimate_made_on_a_busy_machine_stays_the_quiet_figure_and_adds_the_load(
    monkeypatch,
):
    from luckbook.experiments import Estimate

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    quiet = Estimate(600, 2**20, "x", load=0.5)
    busy = Estimate(600, 2**20, "x", load=7.0)
    assert quiet.busy_factor == 1.0 and busy.busy_factor == 4.0
    assert "present load" not in quiet.describe()
    text = busy.describe()
    assert text.startswith("estimated time ≈ 10 min") and "about 40 min at" in text
    assert "(7.0 on 2 cores)" in text
