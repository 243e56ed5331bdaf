"""``luckbook figures``: every figure of a chapter from the cached result, for slides."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from conftest import assert_one_line_error

import luckbook as lb
from luckbook import cli
from luckbook.figures import chapter_figures


def test_two_layer_figures_are_written_as_valid_svg_from_the_cache(tmp_path, capsys):
    seeds = lb.get_experiment("two-layer").claim_seeds("tiny")
    lb.run("two-layer", scale="tiny", seeds=seeds)  # the chapter's run, into the cache
    out = tmp_path / "slides"
    assert cli.main(["figures", "two-layer", "--scale", "tiny", "--out", str(out)]) == 0
    files = sorted(out.glob("*.svg"))
    assert len(files) == len(chapter_figures("two-layer")) >= 3
    for path in files:
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg"), path
    assert str(files[0]) in capsys.readouterr().out


def test_figures_refuse_an_uncached_run_and_a_bad_format(tmp_path, capsys):
    assert_one_line_error(
        capsys,
        ["figures", "two-layer", "--scale", "tiny", "--out", str(tmp_path)],
        "is not in the results cache",
    )
    assert_one_line_error(
        capsys,
        ["figures", "two-layer", "--scale", "tiny", "--format", "gif", "--out", str(tmp_path)],
        "--format='gif' is not allowed",
    )


@pytest.mark.parametrize("name", sorted(lb.REGISTRY))
def test_every_chapter_has_figures_for_slides(name):
    assert chapter_figures(name), f"{name}: no plot function takes its result alone"


def test_course_plan_reads_every_chapter():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    plans = lb.course_plan(root)
    assert len(plans) == len(list((root / "notebooks").glob("*.ipynb")))
    for p in plans:
        assert p.words > 300 and p.exercises >= 1 and p.reading_min >= 1, p
    html = lb.course_table(root)._repr_html_()
    assert html.count("<tr>") == len(plans) + 1 and "compute (measured)" in html
