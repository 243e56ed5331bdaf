"""Execute the book's notebooks in parallel into Jupyter Book's execution cache.

``jupyter-book build`` (execute_notebooks: cache) runs notebooks one after another; on a
2-core machine most chapters are single-threaded Python and matplotlib, so half the machine
idles. This script executes every ``.ipynb`` chapter of ``_toc.yml`` in ``--jobs`` kernels
at once (each with one torch thread, ``LUCKBOOK_THREADS=1``: two kernels with two spinning
OpenMP threads each would slow down many times) and stores the executed notebooks in
``_build/.jupyter_cache`` exactly as myst-nb would. The build that follows then finds every
chapter in the cache ("Using cached notebook") and executes only the MyST pages (the intro,
whose claim runs the chapters have just put in the results cache).

Each notebook still executes once: this replaces the build's execution, it does not add one.
A notebook that fails is reported with its error and left to the build (which fails on it).

    python tools/execute_notebooks.py [--jobs N] [--cache _build/.jupyter_cache]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The ``.ipynb`` files of ``_toc.yml``, in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    files.append(str(node[key]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def _execute(path: str, timeout: int) -> tuple[str, dict | None, float, str | None]:
    """Execute one notebook (in a worker process); return it as JSON-able dict."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(
        nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False, meta_override=True
    )
    if result.err is not None:
        return path, None, result.time, result.exc_string or repr(result.err)
    return path, dict(nb), result.time, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", default=str(ROOT / "_build" / ".jupyter_cache"))
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs={args.jobs} is not allowed: expected an integer >= 1")

    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(args.cache)
    todo = []
    for path in toc_notebooks():
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    if not todo:
        print("execute_notebooks: every chapter is already in the execution cache")
        return 0
    # the longest chapters first (by their last execution time, else by file size)
    todo.sort(key=lambda p: p.stat().st_size, reverse=True)
    os.environ["LUCKBOOK_THREADS"] = "1"
    print(f"execute_notebooks: {len(todo)} notebooks on {args.jobs} kernels", flush=True)
    start, failed = time.perf_counter(), 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(_execute, str(p), args.timeout) for p in todo]
        for future in as_completed(futures):
            path, nb, seconds, error = future.result()
            rel = Path(path).relative_to(ROOT)
            if error is not None:
                failed += 1
                print(f"  {rel}: FAILED after {seconds:.0f} s (the build will report it)\n{error}")
                continue
            cache.cache_notebook_bundle(
                CacheBundleIn(nbformat.from_dict(nb), path, data={"execution_seconds": seconds}),
                check_validity=False,
                overwrite=True,
            )
            print(f"  {rel}: {seconds:.0f} s", flush=True)
    print(f"execute_notebooks: done in {time.perf_counter() - start:.0f} s, {failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
