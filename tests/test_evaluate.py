"""The grouped, low-memory Probe.evaluate equals the plain metrics on a full forward pass;
the SnapshotWorker evaluates copies in order on one background thread."""

from __future__ import annotations

import threading

import pytest
import torch

import luckbook as lb
from luckbook.evaluate import SnapshotWorker


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("widths", [[6, 4, 3], [6, 4, 5, 3]])
def test_probe_matches_reference_metrics(widths, activation):
    seeds = [0, 1, 2, 3, 4]  # not a multiple of the seed group
    teacher = lb.make_teacher(widths, seeds, activation=activation, bias=-0.1)
    student = lb.make_student(teacher, 2, seeds, init="torch_default", init_scale=1.0)
    x = lb.gaussian(300, widths[0], seeds)
    probe = lb.Probe(teacher, x)
    got = probe.evaluate(student)
    ft, fs = teacher.forward(x), student.forward(x)
    torch.testing.assert_close(got["loss"], lb.square_loss(ft.out, fs.out), rtol=1e-12, atol=1e-14)
    for l, (ht, hs) in enumerate(zip(ft.hidden, fs.hidden, strict=True)):
        torch.testing.assert_close(
            got["corr"][l], lb.activation_correlation(ht, hs), rtol=1e-10, atol=1e-12
        )
        torch.testing.assert_close(got["fanout"][l], lb.fanout_norms(student.weights[l + 1]))
    torch.testing.assert_close(probe.loss(student), got["loss"])
    # evaluation leaves the student untouched
    torch.testing.assert_close(student.forward(x).out, fs.out, rtol=0, atol=0)


# ----------------------------------------------------------------------------- SnapshotWorker


def test_snapshot_worker_evaluates_copies_in_order_off_the_calling_thread():
    seeds = [0, 1, 2]
    teacher = lb.make_teacher([6, 4, 3], seeds, bias=-0.1)
    student = lb.make_student(teacher, 2, seeds, init="torch_default", init_scale=1.0)
    probe = lb.Probe(teacher, lb.gaussian(200, 6, seeds))
    expected, futures, threads = [], [], []

    def evaluate(net):
        threads.append(threading.get_ident())
        return probe.evaluate(net)

    with SnapshotWorker(max_pending=2, background=True) as worker:
        for _ in range(5):
            expected.append(probe.evaluate(student))  # before the worker uses the probe
            futures.append(worker.submit(evaluate, student.clone()))
            futures[-1].result()
            for w in student.weights:
                w.mul_(1.1)  # the copy handed over is unaffected
    assert all(t != threading.get_ident() for t in threads) and len(set(threads)) == 1
    for want, future in zip(expected, futures, strict=True):
        got = future.result()
        assert torch.equal(got["loss"], want["loss"])  # bit for bit
        assert torch.equal(got["corr"][0], want["corr"][0])


def test_snapshot_worker_bounds_pending_and_raises_errors():
    gate = threading.Event()
    with SnapshotWorker(max_pending=2, background=True) as worker:
        first = worker.submit(gate.wait, 5.0)
        worker.submit(lambda: 1)
        assert not first.done()
        gate.set()
        worker.submit(lambda: 2)  # waits for the oldest: never more than 2 pending
        assert first.done() and len(worker._pending) <= 2
        worker.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            for _ in range(3):
                worker.submit(lambda: 3)
    with pytest.raises(ValueError, match="max_pending=0"):
        SnapshotWorker(max_pending=0)


def test_snapshot_worker_cancels_queued_work_when_the_block_raises():
    gate, ran = threading.Event(), []
    with pytest.raises(RuntimeError, match="training failed"):
        with SnapshotWorker(max_pending=4, background=True) as worker:
            worker.submit(gate.wait, 5.0)
            later = worker.submit(ran.append, 1)
            gate.set()
            raise RuntimeError("training failed")
    assert later.cancelled() or ran == [1]  # cancelled unless it had already started


def test_snapshot_worker_evaluates_in_line_where_no_core_is_left_for_it(monkeypatch):
    with SnapshotWorker(background=False) as worker:
        here = worker.submit(threading.get_ident)
        assert here.done() and here.result() == threading.get_ident()
        with pytest.raises(ZeroDivisionError):
            worker.submit(lambda: 1 / 0)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    with lb.resources.torch_threads(2):
        assert not SnapshotWorker().background  # both cores train: the worker would spin
    with lb.resources.torch_threads(1):
        assert SnapshotWorker().background
