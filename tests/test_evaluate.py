"""The grouped, low-memory Probe.evaluate equals the plain metrics on a full forward pass."""

from __future__ import annotations

import pytest
import torch

import luckbook as lb


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
