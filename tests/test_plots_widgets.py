"""Figures render to PNG with alt text; the live slider panel runs, caches and reports errors."""

from __future__ import annotations

import base64
import gzip
import html as html_lib
import re
import xml.etree.ElementTree as ET

import pytest

import luckbook as lb
from luckbook.plots import two_layer as plots

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result(small_two_layer):
    return small_two_layer


@pytest.mark.parametrize(
    "draw",
    [
        lambda r: plots.correlation_heatmap(r),
        lambda r: plots.fanout_vs_correlation(r, step=int(r.steps[1])),
        lambda r: plots.training_curves(r, taus=(0.5, 0.95)),
        lambda r: plots.setting_overview(r),
    ],
    ids=["heatmap", "lshape", "curves", "overview"],
)
def test_figures_render_png_with_alt_text(result, draw):
    fig = draw(result)
    assert fig._repr_png_().startswith(PNG)
    html = fig._repr_html_()
    assert html.startswith('<img class="luckbook-figure"')
    payload = html.split("base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(payload).startswith(PNG)
    assert len(fig.alt) > 40 and 'alt="' in html


def test_every_figure_carries_a_working_svg_download_link(result):
    """Under the PNG: ``<a download="<chapter>-<function>.svg">`` holding the figure as
    gzipped SVG (unpacked by the link's click handler), valid XML with text kept as text."""
    fig = plots.setting_overview(result)
    html = fig._repr_html_()
    link = re.search(
        r'<a class="luckbook-svg" download="([^"]+)" href="#" data-svgz="([^"]+)"', html
    )
    assert link, html[-400:]
    assert link.group(1) == "two-layer-setting_overview.svg"
    svg = gzip.decompress(base64.b64decode(link.group(2)))
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert b"<text" in svg and b'id="DejaVuSans' not in svg  # text, not glyph paths
    assert b"<dc:date>" not in svg  # reproducible: no creation date
    handler = html_lib.unescape(re.search(r'onclick="([^"]+)"', html).group(1))
    assert "DecompressionStream('gzip')" in handler and "window.URL.createObjectURL" in handler
    assert len(link.group(2)) < len(html) // 2  # leaner than the PNG it sits under


def _panel_parts(panel):
    sliders_box, (button, status), out = (
        panel.children[0],
        panel.children[1].children,
        panel.children[2],
    )
    return {s.description: s for s in sliders_box.children}, button, status, out


def test_explorer_runs_and_reports_bad_input():
    pytest.importorskip("ipywidgets")
    panel = lb.explorer("two-layer", scale="tiny", seeds=2, steps=200, n_snapshots=4)
    sliders, button, status, out = _panel_parts(panel)
    assert set(sliders) == {"multi", "init_scale", "p", "lr"}
    assert status.value.startswith("done")
    assert len(out.outputs) == 1  # the figure only: the progress bar is cleared
    sliders["multi"].value = 3
    button.click()
    assert "multi=3" in status.value
    # a diverging combination is explained in the panel, not raised
    bad = lb.explorer(
        "two-layer",
        scale="tiny",
        seeds=1,
        steps=50,
        n_snapshots=2,
        lr=100.0,
    )
    _, _, bad_status, _ = _panel_parts(bad)
    assert "diverged" in bad_status.value and "lr=100" in bad_status.value


def test_explorer_without_autorun_waits_for_the_button():
    pytest.importorskip("ipywidgets")
    panel = lb.explorer("two-layer", scale="tiny", seeds=1, autorun=False, steps=100, n_snapshots=2)
    _, button, status, out = _panel_parts(panel)
    assert "press Run" in status.value and len(out.outputs) == 0
    button.click()
    assert status.value.startswith("done") and len(out.outputs) == 1


def test_registered_panels_refuse_unknown_names_in_one_line():
    with pytest.raises(
        ValueError, match=r"panel='nope' is not allowed: the Grid panels are .*two-layer"
    ):
        lb.static_explorer("nope")
    with pytest.raises(ValueError, match=r"panel='nope' is not allowed: the Live panels are"):
        lb.explorer("nope")


# --------------------------------------------------------------- text on the figures
_TEXT_CALLS = {"set_xlabel", "set_ylabel", "set_title", "suptitle", "text", "annotate"}


def _setting_names() -> set[str]:
    """Settings are shown as the code spells them (the slider and ``lb.run`` name); one value
    of a list setting by its singular (``init_std 0.3`` of ``init_stds``)."""
    import dataclasses

    names = {f.name for e in lb.REGISTRY.values() for f in dataclasses.fields(e.settings_cls)}
    return names | {n[:-1] for n in names if n.endswith("s")}


def _raw_tex(text: str, allowed: set[str]) -> bool:
    """An underscore or backslash outside ``$…$`` (after removing setting names)."""
    outside = re.sub(r"\$[^$]*\$", "", text)
    for name in allowed:
        outside = re.sub(rf"\b{name}\b", "", outside)
    return "_" in outside or "\\" in outside


def _strings(node):
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.lineno, node.value
    elif isinstance(node, ast.JoinedStr):
        parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in node.values]
        yield node.lineno, "".join(parts)
    elif isinstance(node, ast.BinOp):
        yield from _strings(node.left)
        yield from _strings(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)


def test_no_raw_underscore_or_latex_in_figure_text():
    """Axis labels, titles and legend entries of every plot module: mathtext (``$w_j$``) or
    plain words, never a raw ``β_kk`` or ``w_j``."""
    import ast
    from pathlib import Path

    allowed = _setting_names()
    found = []
    for path in sorted((Path(lb.__file__).parent / "plots").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            args = list(node.args) if name in _TEXT_CALLS else []
            args += [k.value for k in node.keywords if k.arg in {"label", "title"}]
            for arg in args:
                found += [
                    f"{path.name}:{line}: {text!r}"
                    for line, text in _strings(arg)
                    if _raw_tex(text, allowed)
                ]
    assert not found, "\n".join(found)


def test_drawn_text_has_no_raw_underscore(result):
    allowed = _setting_names()
    fig = plots.setting_overview(result)
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert texts and not [t for t in texts if _raw_tex(t, allowed)]


def test_titles_never_print_nan():
    from luckbook.plots.style import number

    assert number(float("nan")) == "\u2014"
    assert number(float("nan"), reason="no node") == "not defined (no node)"
    assert number(float("inf")) == "\u221e" and number(0.123456) == "0.12"


def test_a_nan_left_in_figure_text_reads_as_a_dash():
    from luckbook.plots.style import new_figure, no_nan

    fig = new_figure(3, 2)
    ax = fig.add_subplot()
    ax.set_title(f"ρ = {float('nan'):.2f}, median {float('nan'):g}; nanmean, banana")
    fig.alt = "ratio nan"
    no_nan(fig)
    assert ax.get_title() == "ρ = \u2014, median \u2014; nanmean, banana"
    assert fig.alt == "ratio not defined"


def test_noise_levels_get_distinguishable_colours():
    """The lucky chapter's levels: at most one blue among the first three (the old palette had
    two, 25 degrees of hue apart) and every two at least 35 degrees of hue apart."""
    import colorsys

    from matplotlib.colors import to_rgb

    from luckbook.plots.lucky import LEVEL_COLORS

    hues = [colorsys.rgb_to_hsv(*to_rgb(c))[0] * 360 for c in LEVEL_COLORS[:3]]
    assert sum(180 <= h <= 250 for h in hues) <= 1, LEVEL_COLORS[:3]
    for i in range(3):
        for j in range(i + 1, 3):
            d = abs(hues[i] - hues[j]) % 360
            assert min(d, 360 - d) >= 35, (LEVEL_COLORS[i], LEVEL_COLORS[j])


def test_figure_text_stays_legible_in_a_slider_panel(result):
    """Every text of a figure is >= 9 pt, and a slider panel never shows its image below the
    scale at which 9 pt at the figure's dpi is 9 px on screen."""
    from matplotlib.text import Text

    from luckbook import static
    from luckbook.plots.style import MIN_FONT_PT, STYLE, floor_fonts

    fig = plots.setting_overview(result)  # styled: its fonts are floored on return
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
    assert sizes and min(sizes) >= MIN_FONT_PT
    note = fig.text(0.0, 0.0, "a note", fontsize=6)
    floor_fonts(fig)
    assert note.get_fontsize() == MIN_FONT_PT
    min_scale = float(re.search(r"var MIN_SCALE = ([0-9.]+);", static._JS).group(1))
    assert MIN_FONT_PT * STYLE["savefig.dpi"] / 72 * min_scale >= 9.0
