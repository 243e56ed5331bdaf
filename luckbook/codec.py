"""Results as data: a safe, pickle-free encoding of result objects for the results cache.

A result is a tree of dataclasses, lists, tuples, dicts, numbers, strings, NumPy arrays and
torch tensors. :func:`dumps` writes it as one ``.npz`` archive: every array (and tensor) as an
array entry, and the tree as JSON that refers to them. :func:`loads` reads it back with
``allow_pickle=False`` and rebuilds only dataclasses defined inside the ``luckbook`` package,
field by field, without calling their code: loading an entry never runs anything it holds.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import math
from typing import Any

import numpy as np
import torch

FORMAT = 1


class CodecError(ValueError):
    """A value cannot be stored as data, or a stored entry is not valid data."""


def _encode(value: Any, arrays: list[np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise CodecError(f"cannot store an object array (dtype {value.dtype})")
        arrays.append(np.ascontiguousarray(value))
        return {"__nd__": len(arrays) - 1}
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        if t.dtype == torch.bfloat16:
            raise CodecError("cannot store a bfloat16 tensor")
        arrays.append(np.ascontiguousarray(t.numpy()))
        return {"__tensor__": len(arrays) - 1}
    if isinstance(value, np.generic):
        return {"__np__": value.dtype.str, "v": _encode(value.item(), arrays)}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).removeprefix("torch.")}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith("luckbook"):
            raise CodecError(f"cannot store a {cls.__module__}.{cls.__qualname__}")
        fields = {
            f.name: _encode(getattr(value, f.name), arrays) for f in dataclasses.fields(value)
        }
        return {"__dc__": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    raise CodecError(
        f"cannot store a value of type {type(value).__module__}.{type(value).__qualname__}"
    )


def _dataclass(path: str) -> type:
    module, _, qualname = path.partition(":")
    if not (module == "luckbook" or module.startswith("luckbook.")) or not qualname:
        raise CodecError(f"refusing to rebuild {path!r}: only luckbook dataclasses are stored")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise CodecError(f"refusing to rebuild {path!r}: not a luckbook dataclass")
    return obj


def _decode(node: Any, arrays: Any) -> Any:
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict) or len(node) > 2:
        raise CodecError("malformed entry")
    if "__nd__" in node:
        return arrays[f"a{int(node['__nd__'])}"]
    if "__tensor__" in node:
        return torch.from_numpy(np.array(arrays[f"a{int(node['__tensor__'])}"]))
    if "__float__" in node:
        return float(node["__float__"])
    if "__np__" in node:
        return np.dtype(str(node["__np__"])).type(_decode(node["v"], arrays))
    if "__device__" in node:
        return torch.device(str(node["__device__"]))
    if "__dtype__" in node:
        dtype = getattr(torch, str(node["__dtype__"]), None)
        if not isinstance(dtype, torch.dtype):
            raise CodecError(f"unknown dtype {node['__dtype__']!r}")
        return dtype
    if "__tuple__" in node:
        return tuple(_decode(v, arrays) for v in node["__tuple__"])
    if "__dict__" in node:
        return {_freeze(_decode(k, arrays)): _decode(v, arrays) for k, v in node["__dict__"]}
    if "__dc__" in node:
        cls = _dataclass(str(node["__dc__"]))
        names = {f.name for f in dataclasses.fields(cls)}
        fields = node.get("fields", {})
        if set(fields) != names:
            raise CodecError(f"{node['__dc__']}: stored fields do not match the class")
        obj = object.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(obj, name, _decode(value, arrays))
        return obj
    raise CodecError("malformed entry")


def _freeze(key: Any) -> Any:
    return tuple(_freeze(k) for k in key) if isinstance(key, (list, tuple)) else key


def dumps(value: Any) -> bytes:
    """``value`` as bytes (an uncompressed ``.npz``); :class:`CodecError` if it is not data."""
    arrays: list[np.ndarray] = []
    tree = _encode(value, arrays)
    meta = json.dumps({"format": FORMAT, "tree": tree}, allow_nan=False).encode()
    buf = io.BytesIO()
    np.savez(
        buf,
        __meta__=np.frombuffer(meta, dtype=np.uint8),
        **{f"a{i}": a for i, a in enumerate(arrays)},
    )
    return buf.getvalue()


def loads(blob: bytes) -> Any:
    """The value :func:`dumps` wrote; never unpickles and never runs stored code."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            meta = json.loads(bytes(npz["__meta__"]).decode())
            if meta.get("format") != FORMAT:
                raise CodecError(f"unknown format {meta.get('format')!r}")
            arrays = {k: npz[k] for k in npz.files if k != "__meta__"}
    except CodecError:
        raise
    except Exception as err:  # noqa: BLE001 - anything unreadable is invalid data
        raise CodecError(f"not a valid entry ({type(err).__name__}: {err})") from None
    return _decode(meta["tree"], arrays)
