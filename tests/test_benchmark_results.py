"""Recorded benchmark results name no machine paths (issue: results are shared as data)."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:root|home|work|tmp|opt|usr|mnt|Users|var)/")


def test_no_recorded_benchmark_result_carries_an_absolute_path():
    found = [
        f"{p.name}:{n}: {line.strip()[:120]}"
        for p in sorted(RESULTS.rglob("*"))
        if p.is_file()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if ABSOLUTE.search(line)
    ]
    assert not found, "\n".join(found)


def test_the_path_scrubber_keeps_what_lies_inside_the_repository():
    import sys

    sys.path.insert(0, str(RESULTS.parent))
    from gpu_check import ROOT, no_paths

    assert no_paths(f"{ROOT}/benchmarks/x.py --json /root/out/a.json") == (
        "benchmarks/x.py --json a.json"
    )
    assert no_paths({"k": ["/tmp/q/r.txt", "a/b"]}) == {"k": ["r.txt", "a/b"]}
