"""Static (kernel-free) slider panels: frames, HTML contract, validation before work."""

from __future__ import annotations

import json
import re

import pytest

import luckbook as lb
from luckbook import static
from luckbook.plots import two_layer as plots
from luckbook.plots.style import new_figure

SMALL = {"scale": "tiny", "steps": 100, "n_snapshots": 4}


def _frame(values):
    fig = new_figure(2, 1)
    fig.add_subplot().plot([0, 1], [0, values.get("a", 0)])
    fig.alt = f"line to {values}"
    return fig, f"numbers for {values}"


def _payload(html: str) -> dict:
    blob = re.search(
        r'<script type="application/json" class="lb-data">(.*?)</script>', html, re.S
    ).group(1)
    return json.loads(blob.replace("<\\/", "</"))


def test_grid_panel_has_one_frame_per_combination_and_the_contract_classes():
    panel = static.static_panel(_frame, {"a": [1, 2, 3], "b": ["x", "y"]}, initial={"a": 2})
    html = panel._repr_html_()
    data = _payload(html)
    assert sorted(data["frames"]) == sorted(f"{i},{j}" for i in range(3) for j in range(2))
    assert data["labels"] == [["1", "2", "3"], ["x", "y"]]
    assert html.count('type="range" class="lb-slider') == 2  # "b" as buttons + hidden range
    assert 'data-kind="grid"' in html and 'class="lb-play"' not in html
    assert 'class="lb-image luckbook-figure"' in html and 'class="lb-numbers"' in html
    # the first frame shown is the initial one, with its alt text and numbers
    assert "numbers for {&#x27;a&#x27;: 2, &#x27;b&#x27;: &#x27;x&#x27;}" in html
    assert data["frames"]["1,0"]["alt"] == "line to {'a': 2, 'b': 'x'}"
    assert all(f["img"].startswith("data:image/png;base64,") for f in data["frames"].values())
    assert panel.nbytes == len(html.encode())


def test_time_panel_has_play_button_and_single_axis():
    panel = static.static_panel(_frame, {"step": [0, 10, 20]}, kind="time")
    assert 'data-kind="time"' in panel._repr_html_() and 'class="lb-play"' in panel._repr_html_()
    with pytest.raises(ValueError, match="exactly one"):
        static.static_panel(_frame, {"a": [1], "b": [2]}, kind="time")


def test_distinct_panels_get_distinct_ids():
    one = static.static_panel(_frame, {"a": [1, 2]})._repr_html_()
    two = static.static_panel(_frame, {"a": [1, 3]})._repr_html_()
    ids = [re.search(r'id="(lb-[0-9a-f]+)"', h).group(1) for h in (one, two)]
    assert ids[0] != ids[1]


@pytest.mark.parametrize(
    "axes, kwargs, message",
    [
        ({}, {}, "at least one slider"),
        ({"a": []}, {}, r"axes\['a'\]=\[\]"),
        ({"a": list(range(15)), "b": list(range(15))}, {}, "225 frames"),
        ({"a": [1, 2]}, {"kind": "movie"}, "kind='movie'"),
        ({"a": [1, 2]}, {"initial": {"a": 5}}, r"initial\['a'\]=5"),
        ({"a": [1, 2]}, {"initial": {"z": 1}}, "unknown slider 'z'"),
    ],
)
def test_static_panel_validation(axes, kwargs, message):
    with pytest.raises(ValueError, match=message):
        static.static_panel(_frame, axes, **kwargs)


def test_static_explorer_validates_every_grid_point_before_running(monkeypatch):
    calls = []
    monkeypatch.setattr("luckbook.experiments.two_layer.build", lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError, match="multi=0"):
        static.static_explorer(
            "two-layer",
            {"multi": [2, 0]},
            plots.setting_panel,
            lambda r: r.numbers(),
            seeds=1,
            **SMALL,
        )
    assert calls == []


def test_static_explorer_and_scrubber_on_real_runs():
    panel = static.static_explorer(
        "two-layer", {"multi": [1, 2]}, plots.setting_panel, lambda r: r.numbers(), seeds=1, **SMALL
    )
    frames = _payload(panel._repr_html_())["frames"]
    assert frames["0"]["text"] != frames["1"]["text"]
    assert frames["0"]["img"] != frames["1"]["img"]
    result = lb.run("two-layer", seeds=1, **SMALL)
    scrub = static.time_scrubber(
        result, plots.specialization_frame, lambda r, s: r.numbers(s), every=3
    )
    data = _payload(scrub._repr_html_())
    assert data["labels"] == [["0", "75", "100"]]  # every 3rd snapshot plus the last
    assert f"step {int(result.steps[-1])}" in data["frames"]["2"]["text"]


# --------------------------------------------------------------------------- reproduce / predict


def test_explorer_frames_show_the_exact_run_call_that_reproduces_them():
    panel = static.static_explorer(
        "two-layer", {"multi": [1, 2]}, plots.setting_panel, lambda r: r.numbers(), seeds=1, **SMALL
    )
    html = panel._repr_html_()
    frames = _payload(html)["frames"]
    assert 'class="lb-copy"' in html and 'class="lb-code"' in html
    for key, multi in (("0", 1), ("1", 2)):
        code = frames[key]["code"]
        assert code.startswith("import luckbook as lb\n")
        assert f"multi={multi}" in code and 'scale="tiny"' in code and "seeds=1" in code
        namespace: dict = {}
        exec(code, namespace)  # loads the same result from the cache
        again = namespace["result"]
        direct = lb.run("two-layer", seeds=1, multi=multi, **SMALL)
        assert (again.fanout == direct.fanout).all()


def test_scrubber_frames_name_the_run_and_the_step():
    result = lb.run("two-layer", seeds=[0, 3], **SMALL)
    call = static.result_call(result)
    assert call == (
        'import luckbook as lb\n\nresult = lb.run("two-layer", scale="tiny", seeds=[0, 3], '
        "steps=100, n_snapshots=4)"
    )
    data = _payload(
        static.time_scrubber(
            result, plots.specialization_frame, lambda r, s: r.numbers(s)
        )._repr_html_()
    )
    last = data["frames"][str(len(data["labels"][0]) - 1)]["code"]
    assert last.startswith(call) and f"step {int(result.steps[-1])}" in last
    assert static.result_call(object()) is None


def test_generic_panel_without_code_has_no_reproduce_box():
    html = static.static_panel(_frame, {"a": [1, 2]})._repr_html_()
    body = html.split("</style>")[1].split("<script")[0]
    assert 'class="lb-code"' not in body and 'class="lb-copy"' not in body


def test_predict_prompt_above_the_panel_with_the_answer_folded():
    html = static.static_panel(
        _frame, {"a": [1, 2]}, predict=("What happens to <b> when a grows?", "It grows too.")
    )._repr_html_()
    body = html.split("<script")[0]
    assert body.index('class="lb-predict"') < body.index('class="lb-controls"')
    assert "<details><summary>Answer</summary><p>It grows too.</p></details>" in body
    assert "&lt;b&gt;" in body  # escaped
    for bad in ("just a question", ("q",), ("q", ""), ("q", 1)):
        with pytest.raises(ValueError, match="predict="):
            static.static_panel(_frame, {"a": [1]}, predict=bad)


def test_categorical_settings_get_buttons_over_a_hidden_range_input():
    """A setting of two to four non-numeric values is a button group (one pressed); its range
    input stays in the contract (``input[type=range].lb-slider``), hidden, as the state the
    buttons set. Numeric settings keep their slider."""
    panel = static.static_panel(
        _frame, {"a": [1, 2, 3], "dynamics": ["sgd", "projected-matrix"]}, initial={"a": 2}
    )
    html = panel._repr_html_()
    assert panel.toggles == [False, True]
    assert html.count('class="lb-slider"') == 1 and html.count('class="lb-slider lb-hidden"') == 1
    buttons = re.findall(
        r'<button type="button" class="lb-option" data-name="dynamics" '
        r'data-index="(\d)" aria-pressed="(true|false)">([^<]+)</button>',
        html,
    )
    assert buttons == [("0", "true", "sgd"), ("1", "false", "projected-matrix")]
    assert 'role="group" aria-label="dynamics"' in html and "button.lb-option" in html
    five = static.static_panel(_frame, {"k": ["a", "b", "c", "d", "e"]})
    assert five.toggles == [False]  # five values: a slider


def test_live_explorer_uses_toggle_buttons_for_categorical_settings():
    pytest.importorskip("ipywidgets")
    import ipywidgets as w

    from luckbook.widgets import _slider, is_categorical

    assert is_categorical(["relu", "leaky_relu"]) and not is_categorical([1, 2, 3])
    assert not is_categorical(["only"]) and not is_categorical(list("abcde"))
    toggle = _slider("activation", {"kind": "select", "options": ["relu", "leaky_relu"]}, "relu")
    assert isinstance(toggle, w.ToggleButtons) and toggle.value == "relu"
    numeric = _slider("multi", {"kind": "select", "options": [1, 2, 3]}, 2)
    assert isinstance(numeric, w.SelectionSlider)


def test_scrubber_can_start_at_step_zero():
    """``start="first"`` (the fanout chapter's panel, whose trained state is the figure above
    it) shows step 0 first; the default is the last step; a bad value fails before work."""
    from types import SimpleNamespace

    import numpy as np

    from luckbook import panels

    run = SimpleNamespace(steps=np.array([0, 10, 20]))

    def frame(result, step):
        return _frame({"a": step})[0]

    def numbers(result, step):
        return f"step {step}"

    first = static.time_scrubber(run, frame, numbers, start="first")
    last = static.time_scrubber(run, frame, numbers)
    assert first.initial == [0] and last.initial == [2]
    with pytest.raises(ValueError, match="start='middle' is not allowed"):
        static.time_scrubber(run, frame, numbers, start="middle")
    assert panels.get(panels.Frames, "fanout").start == "first"


def test_grid_frames_carry_their_svg_and_the_link_follows_the_sliders():
    """A grid panel's frames each carry their figure as gzipped SVG (``svgz``, valid XML) and
    a file name with the frame's values; the panel shows one download link (the first
    frame's), which the panel's script retargets. Time panels leave it out by default."""
    import base64
    import gzip
    import xml.etree.ElementTree as ET

    panel = static.static_panel(_frame, {"a": [1, 2], "b": ["x", "y"]})
    html = panel._repr_html_()
    frames = _payload(html)["frames"]
    for frame in frames.values():
        root = ET.fromstring(gzip.decompress(base64.b64decode(frame["svgz"])))
        assert root.tag.endswith("svg")
    assert frames["1,0"]["svg"] == "figure-a=2-b=x.svg"
    assert (
        html.count('class="luckbook-svg lb-svg"') == 1 and 'download="figure-a=1-b=x.svg"' in html
    )
    assert "svg.dataset.svgz = frame.svgz" in html
    time_panel = static.static_panel(_frame, {"step": [0, 10]}, kind="time")
    assert "svgz" not in _payload(time_panel._repr_html_())["frames"]["0"]


def test_frame_numbers_never_print_nan():
    def render(values):
        fig, _ = _frame(values)
        return fig, f"r = {float('nan'):.3f} [nan, nan]; nanmean"

    panel = static.static_panel(render, {"a": [1]}, svg=False)
    assert panel.frames["0"]["text"] == "r = \u2014 [\u2014, \u2014]; nanmean"
