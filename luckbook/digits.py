"""Real images for the Real-data chapter (E7, E8): scikit-learn's digits, CIFAR-10 from disk,
and the two kinds of input E8's students see.

**Digits.** :func:`load_digits` wraps scikit-learn's bundled ``load_digits`` (1 797 grey
8 × 8 images of the digits 0–9, shipped inside the package: no download). The images are
split into a training and a test part by a seeded generator and standardised per pixel with
the *training* part's mean and standard deviation (a pixel that is constant on the training
part is only centred).

**CIFAR-10.** :func:`load_cifar10` reads the official "CIFAR-10 python version" from a local
folder (``folder=`` or the environment variable ``LUCKBOOK_CIFAR10``): the files
``data_batch_1`` … ``data_batch_5`` and ``test_batch``, each a Python pickle of a dict with
``b"data"`` (``uint8 [10000, 3072]``, channel-major 32 × 32 images) and ``b"labels"``. The
book never downloads it. Pickle is used **only** because it is the data set's official
format, and through :class:`_ArrayUnpickler`, which refuses every global except the NumPy
array constructors those files need: a file that tries to import anything else (and so
could run code) is rejected with ``ValueError`` before anything is built from it.

**Student inputs (E8).** :func:`student_inputs` builds a student's training inputs from a data
set's training part: the ``"real"`` images (enlarged by noisy copies) or ``"gaussian"`` points
with the same mean and covariance (the pixels' correlations without the images' shapes).
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .config import check_float, check_int
from .rng import generator

CIFAR_ENV = "LUCKBOOK_CIFAR10"
"""Environment variable naming a folder with the CIFAR-10 python batches."""

CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"

INPUT_KINDS = ("real", "gaussian")
"""The kinds of student input of E8 (:func:`student_inputs`)."""


@dataclasses.dataclass
class ImageData:
    """A labelled image data set, split and standardised (float64, CPU).

    Attributes:
        name: ``"digits"`` or ``"cifar10"``.
        x_train, x_test: ``[N, d]`` flattened standardised images.
        y_train, y_test: ``[N]`` integer labels.
        shape: ``(channels, height, width)`` of one image (``d`` = their product).
        mean, std: ``[d]`` the training part's per-pixel mean and the divisor used.
        n_classes: number of labels.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    shape: tuple[int, int, int]
    mean: torch.Tensor
    std: torch.Tensor
    n_classes: int = 10

    @property
    def d(self) -> int:
        return int(self.x_train.shape[1])

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, d] -> [N, C, H, W]`` (for convolutional networks)."""
        return x.reshape(len(x), *self.shape)

    def covariance(self) -> torch.Tensor:
        """``[d, d]`` covariance of the standardised training images."""
        x = self.x_train - self.x_train.mean(0)
        return x.T @ x / (len(x) - 1)


def _standardise(
    name: str,
    x: torch.Tensor,
    y: torch.Tensor,
    train_idx: torch.Tensor,
    test_idx: torch.Tensor,
    shape: tuple[int, int, int],
) -> ImageData:
    xtr, xte = x[train_idx], x[test_idx]
    mean = xtr.mean(0)
    std = xtr.std(0)
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    return ImageData(
        name=name,
        x_train=(xtr - mean) / std,
        y_train=y[train_idx],
        x_test=(xte - mean) / std,
        y_test=y[test_idx],
        shape=shape,
        mean=mean,
        std=std,
    )


def load_digits(split_seed: int = 0, test_fraction: float = 0.25) -> ImageData:
    """scikit-learn's digits, split by ``split_seed`` and standardised (see the module doc).

    Args:
        split_seed: seed of the generator that shuffles the images before the split (≥ 0).
        test_fraction: share of the images held out as the test part, in ``(0, 1)``.
    """
    check_int("split_seed", split_seed, minimum=0)
    test_fraction = check_float(
        "test_fraction", test_fraction, low=0.0, high=1.0, low_open=True, high_open=True
    )
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = torch.from_numpy(np.asarray(bunch.data, dtype=np.float64))
    y = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    perm = torch.randperm(len(x), generator=generator(split_seed, "digits_split"))
    n_test = max(1, round(test_fraction * len(x)))
    return _standardise("digits", x, y, perm[n_test:], perm[:n_test], (1, 8, 8))


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler for data only: NumPy arrays, dicts, lists, bytes, numbers.

    ``find_class`` is the only way a pickle can reach code; it allows exactly the NumPy
    names an array needs to be rebuilt and refuses everything else.
    """

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
        }
    )

    def find_class(self, module: str, name: str):  # noqa: D102
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing {module}.{name}: a CIFAR-10 batch holds only arrays, lists and bytes"
        )


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> ``(data uint8 [N, 3072], labels int64 [N])``.

    Raises ``ValueError`` naming the file if it is not a batch in the official format (or
    if it asks the unpickler for anything but NumPy arrays).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError) as err:
        raise ValueError(f"{path} is not a CIFAR-10 python batch: {err}") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path} is not a CIFAR-10 python batch: expected a dict")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path} is not a CIFAR-10 python batch: no 'data'/'labels' entries")
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(
            f"{path} is not a CIFAR-10 python batch: data has shape {data.shape}, "
            f"expected [N, 3072] with N = {len(labels)} labels"
        )
    return data, labels


def cifar10_folder(folder: str | Path | None = None) -> Path | None:
    """The CIFAR-10 folder to use: ``folder``, else ``$LUCKBOOK_CIFAR10``, else ``None``.

    Returns ``None`` when neither is set; raises ``ValueError`` if the folder named lacks a
    batch file.
    """
    raw = folder if folder not in (None, "") else os.environ.get(CIFAR_ENV, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    missing = [n for n in (*CIFAR_TRAIN, CIFAR_TEST) if not (path / n).is_file()]
    if missing:
        raise ValueError(
            f"cifar10={str(raw)!r} is not allowed: the folder lacks {', '.join(missing)} "
            "(expected the CIFAR-10 python version: data_batch_1..5 and test_batch)"
        )
    return path


def load_cifar10(folder: str | Path | None = None, grey: bool = False) -> ImageData:
    """The CIFAR-10 python batches from ``folder`` (or ``$LUCKBOOK_CIFAR10``), standardised.

    The official split is kept (50 000 training, 10 000 test images); ``grey=True`` averages
    the three colour channels (``d = 1024`` instead of 3072). Raises ``ValueError`` when no
    folder is given or set.
    """
    path = cifar10_folder(folder)
    if path is None:
        raise ValueError(
            f"no CIFAR-10 folder: pass one or set {CIFAR_ENV} to a folder with the python "
            "batches data_batch_1..5 and test_batch"
        )
    parts = [read_cifar_batch(path / n) for n in (*CIFAR_TRAIN, CIFAR_TEST)]
    x = torch.from_numpy(np.concatenate([p[0] for p in parts]).astype(np.float64) / 255.0)
    y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    shape = (3, 32, 32)
    if grey:
        x = x.reshape(len(x), 3, 1024).mean(1)
        shape = (1, 32, 32)
    n_test = len(parts[-1][1])
    idx = torch.arange(len(x))
    return _standardise("cifar10", x, y, idx[:-n_test], idx[-n_test:], shape)


def load(name: str, split_seed: int = 0, cifar10: str = "", grey: bool = False) -> ImageData:
    """``"digits"`` (split by ``split_seed``) or ``"cifar10"`` (from ``cifar10`` or the env)."""
    if name == "digits":
        return load_digits(split_seed)
    if name == "cifar10":
        return load_cifar10(cifar10 or None, grey=grey)
    raise ValueError(f"dataset={name!r} is not allowed: expected 'digits' or 'cifar10'")


def student_inputs(
    kind: str, data: ImageData, n_train: int, noise: float, seeds: Sequence[int]
) -> torch.Tensor:
    """``[S, n_train, d]`` float64 training inputs of ``kind`` for E8's students, per seed from
    its ``"train_data"`` stream.

    Args:
        kind: ``"real"`` — ``data``'s training images, repeated up to ``n_train`` points, every
            copy after the first (which is clean) with Gaussian pixel noise of standard
            deviation ``noise`` (standardised units); ``"gaussian"`` — ``n_train`` Gaussian
            points with the training images' mean and covariance.
        data: the image data set (its training part is used).
        n_train: points per seed.
        noise: the pixel noise of the copies (``"real"`` only).
        seeds: one set of inputs per seed.
    """
    out = []
    x = data.x_train
    if kind == "gaussian":
        chol = torch.linalg.cholesky(
            data.covariance() + 1e-6 * torch.eye(data.d, dtype=torch.float64)
        )
        mean = x.mean(0)
    elif kind != "real":
        raise ValueError(f"kind={kind!r} is not allowed: expected one of {', '.join(INPUT_KINDS)}")
    for seed in seeds:
        gen = generator(seed, "train_data")
        if kind == "real":
            reps = math.ceil(n_train / len(x))
            copies = x.repeat(reps, 1)[:n_train].clone()
            eps = torch.randn(copies.shape, generator=gen, dtype=torch.float64)
            eps[: len(x)] = 0.0
            out.append(copies + noise * eps)
        else:
            z = torch.randn(n_train, data.d, generator=gen, dtype=torch.float64)
            out.append(mean + z @ chol.T)
    return torch.stack(out)
