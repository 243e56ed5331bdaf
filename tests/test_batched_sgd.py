"""luckbook.batched_sgd: the cache-blocked E5 trainer gives luckbook.train.train's numbers."""

from __future__ import annotations

import pytest
import torch

from luckbook.batched_sgd import block_size, step_seconds, train_blocked
from luckbook.ensemble import Net
from luckbook.experiments.sample_complexity import StackedSets
from luckbook.train import DivergenceError, train


def _setup(lr_scale: float = 0.1):
    gen = torch.Generator().manual_seed(0)
    d, n, c = 6, 4, 3
    members = 6
    net = Net(
        [
            lr_scale * torch.randn(members, d + 1, n, generator=gen, dtype=torch.float64),
            lr_scale * torch.randn(members, n + 1, c, generator=gen, dtype=torch.float64),
        ]
    )
    xs = [torch.randn(2, size, d, generator=gen, dtype=torch.float64) for size in (5, 9, 30)]
    ys = [torch.randn(2, x.shape[1], c, generator=gen, dtype=torch.float64) for x in xs]
    return net, StackedSets(xs, ys), [3, 4] * 3


def test_blocks_and_workers_give_train_s_weights_bit_for_bit():
    # batch 256: index chunks of 512 steps, so 600 steps cross a chunk boundary.
    net, source, seeds = _setup()
    ref, new = net.clone(), net.clone()
    snaps = [0, 250, 600]
    record = lambda t, n: n.weights[0].clone()  # noqa: E731
    a = train(
        ref, source, seeds, lr=0.01, steps=600, batch=256, snapshots=snaps, on_snapshot=record
    )
    args = (source.flat_x, source.flat_y, source.member_sizes, source.offsets, seeds)
    b = train_blocked(
        new,
        *args,
        lr=0.01,
        steps=600,
        batch=256,
        snapshots=snaps,
        on_snapshot=record,
        block=4,
        workers=2,
    )
    assert a.steps == b.steps == snaps
    assert all(torch.equal(x, y) for x, y in zip(a.records, b.records, strict=True))
    assert all(torch.equal(x, y) for x, y in zip(ref.weights, new.weights, strict=True))
    assert torch.equal(a.batch_loss, b.batch_loss)
    assert 1 <= block_size(net) <= net.n_seeds


def test_bad_arguments_and_divergence():
    net, source, seeds = _setup()
    args = (source.flat_x, source.flat_y, source.member_sizes, source.offsets)
    with pytest.raises(ValueError, match="block=0 is not allowed"):
        train_blocked(net, *args, seeds, lr=0.01, steps=5, batch=4, block=0)
    with pytest.raises(ValueError, match="seeds has 2 entries"):
        train_blocked(net, *args, seeds[:2], lr=0.01, steps=5, batch=4)
    with pytest.raises(ValueError, match="snapshots="):
        train_blocked(net, *args, seeds, lr=0.01, steps=5, batch=4, snapshots=[9])
    big, source, seeds = _setup(lr_scale=10.0)
    args = (source.flat_x, source.flat_y, source.member_sizes, source.offsets)
    with pytest.raises(DivergenceError):
        train_blocked(big, *args, seeds, lr=1e3, steps=200, batch=4, block=2, workers=2)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_preallocated_step_gives_sgd_step_s_numbers_bit_for_bit(activation):
    # A deeper ReLU student takes the preallocated _Step (Leaky ReLU: sgd_step itself); both
    # must match the reference path (sgd_step on gathered minibatches) in every weight and
    # every stored loss, over a chunk boundary (batch 256: chunks of 512 steps).
    gen = torch.Generator().manual_seed(1)
    d, widths, c = 6, (5, 4), 3
    members = 6
    shapes = list(zip((d, *widths), (*widths, c), strict=True))
    net = Net(
        [
            0.3 * torch.randn(members, i + 1, o, generator=gen, dtype=torch.float64)
            for i, o in shapes
        ],
        activation=activation,
    )
    _, source, seeds = _setup()
    args = (source.flat_x, source.flat_y, source.member_sizes, source.offsets, seeds)
    kw = dict(lr=0.01, steps=700, batch=256, snapshots=[0, 300, 700], block=4, workers=2)
    ref, new = net.clone(), net.clone()
    a = train_blocked(ref, *args, reference=True, **kw)
    b = train_blocked(new, *args, **kw)
    assert all(torch.equal(x, y) for x, y in zip(ref.weights, new.weights, strict=True))
    assert torch.equal(a.batch_loss, b.batch_loss)
    assert not torch.equal(ref.weights[0], net.weights[0])  # it did train


def test_step_seconds_times_the_blocked_steps():
    net, source, seeds = _setup()
    before = net.clone()
    args = (source.flat_x, source.flat_y, source.member_sizes, source.offsets, seeds)
    seconds = step_seconds(net, *args, lr=0.01, steps=20, batch=4)
    assert 0 <= seconds < 1
    ref = before.clone()
    train_blocked(ref, *args, lr=0.01, steps=20, batch=4, block=net.n_seeds)
    assert all(torch.equal(x, y) for x, y in zip(ref.weights, net.weights, strict=True))
