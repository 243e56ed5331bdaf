"""Results cached on disk, keyed by every setting, the package version and its source code.

An entry is ``MAGIC + sha256(payload) + payload``, where the payload is the result *as data*
(:mod:`luckbook.codec`: arrays and JSON, read with pickling disabled), so a cache folder can
be shared between workers and users: loading a crafted entry cannot run code. It is written
to a temporary file in the same folder and renamed into place (atomic on POSIX), so readers
never see half an entry. A truncated, corrupted or tampered entry fails its checksum or its
decoding, is reported with a warning and recomputed.

The folder is ``$LUCKBOOK_CACHE_DIR`` (default ``~/.cache/luckbook``); ``LUCKBOOK_CACHE=off``
disables caching.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import os
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from . import codec
from ._version import __version__

MAGIC = b"LUCKBOOK-CACHE-2\n"
T = TypeVar("T")
SUFFIX = ".entry"


class CacheWarning(UserWarning):
    """A cache entry was unreadable and has been recomputed."""


def cache_dir() -> Path:
    """The cache folder: ``$LUCKBOOK_CACHE_DIR`` or ``~/.cache/luckbook``."""
    env = os.environ.get("LUCKBOOK_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "luckbook"


def cache_enabled() -> bool:
    return os.environ.get("LUCKBOOK_CACHE", "on").strip().lower() not in ("0", "off", "false", "no")


PRESENTATION = frozenset(
    {
        "widgets.py",
        "static.py",
        "cli.py",
        "__main__.py",
        "claims.py",
        "reproducibility.py",
        "sweep.py",
        "costs.py",
        "result.py",
        "replay.py",
        "paper_store.py",
    }
)
"""Modules that only draw, parse, estimate or analyse stored arrays (and everything under
``plots/``, ``panels/`` and ``results/``): changing them does not invalidate computed
results. So ``results/<experiment>.py`` must hold no code that ``compute`` runs."""

PRESENTATION_DIRS = ("plots/", "panels/", "results/")


def _is_core(rel: str) -> bool:
    """Computing modules shared by every experiment (an experiment's own module is keyed apart)."""
    if rel in PRESENTATION or rel.startswith(PRESENTATION_DIRS):
        return False
    return not rel.startswith("experiments/") or rel in (
        "experiments/base.py",
        "experiments/__init__.py",
    )


@functools.lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """sha256 over the package's shared computing ``.py`` files: a change invalidates old entries.

    An experiment's own module is added to its key by :meth:`Experiment.run` (see
    :func:`file_fingerprint`), so editing one experiment does not invalidate the others.
    """
    root = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if not _is_core(rel):
            continue
        h.update(rel.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=64)
def file_fingerprint(path: str) -> str:
    """sha256 of one source file (an experiment's module)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _experiment_imports(module: types.ModuleType, prefix: str) -> set[str]:
    """Names of the ``prefix…`` modules that ``module``'s source imports, at any depth of the
    file (module level or inside functions): ``from .x import …``, ``from . import x``,
    ``from ..experiments.x import …`` and absolute ``luckbook.experiments.x`` imports."""
    path = getattr(module, "__file__", None)
    if not path:
        return set()
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    package = module.__name__.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith(prefix) and name in sys.modules}


def experiment_modules(module: types.ModuleType) -> list[str]:
    """The experiment modules whose code ``module``'s results depend on: ``module`` itself and,
    transitively, every other module of ``luckbook.experiments`` whose code its source imports
    (found by parsing the imports, wherever they are in the file); sorted by name.
    (``experiments/base.py`` may be among them; it is also part of the core fingerprint.)"""
    prefix = f"{__package__}.experiments."
    seen: set[str] = set()
    stack = [module]
    while stack:
        mod = stack.pop()
        if mod.__name__ in seen:
            continue
        seen.add(mod.__name__)
        stack.extend(sys.modules[name] for name in _experiment_imports(mod, prefix))
    return sorted(seen)


def experiment_fingerprint(module: types.ModuleType) -> str:
    """sha256 over the sources of :func:`experiment_modules`: editing an experiment, or another
    experiment module it builds on (e.g. the sweep on ``two_layer``), invalidates its results."""
    h = hashlib.sha256()
    for name in experiment_modules(module):
        path = sys.modules[name].__file__
        h.update(name.encode())
        h.update(file_fingerprint(path).encode() if path else b"?")
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def cache_key(namespace: str, key: Mapping[str, Any]) -> str:
    """Hex digest of the namespace, the key's values, the version and the source fingerprint."""
    blob = json.dumps(
        {
            "namespace": namespace,
            "key": _jsonable(key),
            "version": __version__,
            "source": source_fingerprint(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def entry_path(namespace: str, key: Mapping[str, Any]) -> Path:
    return cache_dir() / namespace / f"{cache_key(namespace, key)}{SUFFIX}"


def write_entry(path: Path, value: Any) -> None:
    """Atomically write ``value`` (as data, with a checksum) to ``path``; raise
    :class:`~luckbook.codec.CodecError` if it is not data."""
    payload = codec.dumps(value)
    blob = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_entry(path: Path) -> Any:
    """Read an entry; raise ``ValueError`` if it is truncated or corrupted."""
    blob = path.read_bytes()
    if not blob.startswith(MAGIC):
        raise ValueError("bad header")
    digest, sep, payload = blob[len(MAGIC) :].partition(b"\n")
    if not sep or hashlib.sha256(payload).hexdigest().encode() != digest:
        raise ValueError("checksum mismatch (truncated or corrupted)")
    return codec.loads(payload)


def cached(
    namespace: str, key: Mapping[str, Any], compute: Callable[[], T], *, refresh: bool = False
) -> T:
    """Return the cached value for ``(namespace, key)``, computing and storing it if needed.

    ``refresh=True`` recomputes and overwrites. A corrupted entry triggers a
    :class:`CacheWarning` and is recomputed.
    """
    if not cache_enabled():
        return compute()
    path = entry_path(namespace, key)
    if path.exists() and not refresh:
        try:
            return read_entry(path)
        except Exception as err:  # noqa: BLE001 - any unreadable entry is recomputed
            warnings.warn(
                f"cache entry {path} is unreadable ({err}); recomputing", CacheWarning, stacklevel=2
            )
    value = compute()
    write_entry(path, value)
    return value
