"""Settings: validation helpers, scale presets, device and dtype resolution.

Every public entry point validates its arguments *before* any work starts and raises a
``ValueError`` that names the parameter, the value it got and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import os
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, get_type_hints

import torch

SCALES = ("tiny", "book", "paper")
"""Size presets: ``tiny`` for fast tests, ``book`` for the rendered book on a 2-core CPU,
``paper`` for the published sizes (a GPU is advisable)."""

DTYPES = {"float32": torch.float32, "float64": torch.float64}

DEFAULT_TAUS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
"""Correlation thresholds at which the papers count a teacher node as covered (SS)."""


def _fail(name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"{name}={value!r} is not allowed: {allowed}")


def check_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer ≥ ``minimum``; raise ``ValueError``
    otherwise.

    Python and NumPy integers are accepted; floats (even ``5.0``) and booleans are not.
    """
    if isinstance(value, bool):
        raise _fail(name, value, f"expected an integer >= {minimum}")
    try:
        value = operator.index(value)
    except TypeError:
        raise _fail(name, value, f"expected an integer >= {minimum}") from None
    if value < minimum:
        raise _fail(name, value, f"expected an integer >= {minimum}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the interval; raise ``ValueError`` otherwise."""
    if math.isinf(high) and math.isinf(low):
        allowed = "expected a finite number"
    elif math.isinf(high):
        allowed = f"expected a finite number {'>' if low_open else '>='} {low:g}"
    elif math.isinf(low):
        allowed = f"expected a finite number {'<' if high_open else '<='} {high:g}"
    else:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        allowed = f"expected a finite number in {lo}{low:g}, {high:g}{hi}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, value, allowed)
    value = float(value)
    if not math.isfinite(value):
        raise _fail(name, value, allowed)
    if value < low or (low_open and value == low) or value > high or (high_open and value == high):
        raise _fail(name, value, allowed)
    return value


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``; raise ``ValueError`` otherwise."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise _fail(name, value, "expected one of " + ", ".join(repr(a) for a in allowed))
    return value


def check_taus(name: str, taus: Any) -> tuple[float, ...]:
    """Validate correlation thresholds: a non-empty sequence of numbers in the open interval
    (0, 1)."""
    if isinstance(taus, (int, float)):
        taus = (taus,)
    taus = tuple(taus)
    if not taus:
        raise _fail(name, taus, "expected at least one threshold in (0, 1)")
    return tuple(
        check_float(name, t, low=0.0, high=1.0, low_open=True, high_open=True) for t in taus
    )


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"``/``"float64"`` (or the torch dtype) -> torch dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype in DTYPES.values():
            return dtype
        raise _fail("dtype", dtype, "expected 'float32' or 'float64'")
    check_choice("dtype", dtype, DTYPES)
    return DTYPES[dtype]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Parse and check a device: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``, ``"mps"``.

    Raises ``ValueError`` for an unknown device string or one this machine does not have.
    """
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise _fail("device", device, "expected 'cpu', 'cuda', 'cuda:<index>' or 'mps'") from err
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise _fail("device", device, "CUDA is not available on this machine; use 'cpu'")
        index = dev.index or 0
        if index >= torch.cuda.device_count():
            raise _fail(
                "device", device, f"this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        return torch.device("cuda", index)
    if dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise _fail("device", device, "MPS is not available on this machine; use 'cpu'")
        return dev
    raise _fail("device", device, "expected 'cpu', 'cuda', 'cuda:<index>' or 'mps'")


def default_scale() -> str:
    """The scale preset named by ``LUCKBOOK_SCALE`` (default ``"book"``)."""
    scale = os.environ.get("LUCKBOOK_SCALE", "book").strip() or "book"
    return check_choice("LUCKBOOK_SCALE", scale, SCALES)


S = TypeVar("S")


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def coerce(cls: type, name: str, raw: str) -> Any:
    """Parse the command-line string ``raw`` for field ``name`` of settings class ``cls``."""
    hints = get_type_hints(cls)
    kind = hints[name]
    text = raw.strip()
    try:
        if kind is int:
            value = float(text)
            if not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            return float(text)
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is str:
            return text
        if kind == tuple[float, ...]:
            return tuple(float(t) for t in text.strip("()[]").split(",") if t.strip())
        if kind == tuple[int, ...]:
            return tuple(int(t) for t in text.strip("()[]").split(",") if t.strip())
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not allowed: expected {_kind_name(kind)}") from None
    raise TypeError(f"cannot parse settings field {name} of type {kind}")  # pragma: no cover


def _kind_name(kind: Any) -> str:
    return {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
    }.get(kind, "a comma-separated list of numbers")


def make_settings(
    cls: type[S],
    scale: str | None = None,
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    **overrides: Any,
) -> S:
    """Build a settings dataclass: the ``scale`` preset, then ``overrides``; then validate.

    Unknown names raise ``ValueError`` listing the allowed ones.
    """
    names = field_names(cls)
    for key in overrides:
        if key not in names:
            raise ValueError(
                f"unknown parameter {key!r} for {cls.__name__}; allowed: {', '.join(names)}"
            )
    scale = default_scale() if scale is None else check_choice("scale", scale, SCALES)
    values: dict[str, Any] = dict((presets or {}).get(scale, {}))
    values.update(overrides)
    settings = cls(**values)
    validate = getattr(settings, "validate", None)
    if validate is not None:
        validate()
    return settings


def provenance(scale: str | None = None, device: str | torch.device | None = None) -> str:
    """One line saying how a page's numbers were made: scale, package and torch versions, device."""
    from ._version import __version__

    scale = default_scale() if scale is None else check_choice("scale", scale, SCALES)
    dev = resolve_device(device)
    return (
        f"Computed at scale '{scale}' with luckbook {__version__} "
        f"(torch {torch.__version__}, {dev.type})."
    )
