"""Explicit randomness: one independent ``torch.Generator`` per (seed, stream).

Every random quantity of a run (teacher, data, student init, minibatch order) has its own
stream, so that, e.g., changing the number of training steps does not change the teacher,
and seed 3 gives the same numbers whether it is trained alone or in an ensemble of 32.
Everything random is drawn on the CPU and then moved to the device, so a run starts from
identical tensors on every device.
"""

from __future__ import annotations

import hashlib

import torch

STREAMS = ("teacher", "train_data", "eval_data", "student", "batches", "extra")


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit integer derived from ``(seed, stream)``; stable across Python runs."""
    digest = hashlib.sha256(f"luckbook:{int(seed)}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, stream: str) -> torch.Generator:
    """A fresh CPU generator for ``(seed, stream)``."""
    return torch.Generator(device="cpu").manual_seed(stream_seed(seed, stream))
