"""Offline `dvc plots`: the committed HTML template inlines Vega, Vega-Lite and Vega-Embed, and the page
`dvc plots diff` writes renders every chart in headless Chromium with the network blocked, with log axes
where dvc.yaml's plots declare them; the committed chart templates are the ones stages.plot_templates writes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages.offline_plots import offline_template
from stages.plot_templates import TEMPLATES, text_of

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / ".dvc/plots/offline.html"


def test_the_template_keeps_dvcs_placeholders_and_escapes_the_bundle():
    page = offline_template('window.vegaEmbed = 1; const s = "</script>"; const o = {a: 1};', "1.0")
    assert "{plot_divs}" in page and "{refresh_tag}" in page and "{scripts}" not in page
    assert "<\\/script>" in page and page.count("</script>") == 1  # only the element's own end tag
    assert "const o = {a: 1};" in page  # DVC fills placeholders by plain replacement: braces stay as written


def test_the_committed_template_needs_no_network_and_is_the_configured_one():
    page = TEMPLATE.read_text(encoding="utf8")
    assert "{plot_divs}" in page and "window.vegaEmbed=" in page
    assert not re.search(r"<script[^>]+src=", page), "no script loaded from elsewhere"
    config = (REPO / ".dvc/config").read_text()
    assert re.search(r"\[plots\]\s+html_template = plots/offline.html", config)


BUILT_IN = {"linear", "simple", "scatter", "smooth", "confusion", "confusion_normalized", "bar_horizontal",
            "bar_horizontal_sorted"}  # DVC's own templates


def _declared_plots() -> dict[str, dict]:
    """Title (or file) → properties of every plot dvc.yaml declares, top level and on stage outputs."""
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    found = {}
    for entry in pipeline["plots"]:
        (name, props), = entry.items() if isinstance(entry, dict) else [(entry, {})]
        found[name] = props or {}
    for stage in pipeline["stages"].values():
        stage = stage.get("do", stage)
        for out in [*stage.get("outs", []), *stage.get("plots", [])]:
            if isinstance(out, dict):
                (name, props), = out.items()
                if "x" in (props or {}):
                    found[name] = props
    return found


def _shown_title(name: str, props: dict) -> str:
    """The title DVC draws for a declared plot: its `title` with `${key.path}` filled from params.yaml, else its id."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())

    def value(match: re.Match) -> str:
        found = params
        for key in match.group(1).split("."):
            if key not in found:  # a stage's own ${item}: the title names each of its charts
                return match.group(0)
            found = found[key]
        return str(found)

    return re.sub(r"\$\{([^}]+)\}", value, props.get("title", name))


def test_the_committed_chart_templates_are_what_plot_templates_writes():
    folder = REPO / ".dvc/plots"
    assert {p.stem for p in folder.glob("*.json")} == set(TEMPLATES)
    for name, spec in TEMPLATES.items():
        assert (folder / f"{name}.json").read_text(encoding="utf8") == text_of(spec), name


def test_every_declared_template_exists_and_charts_have_words_for_axes():
    for name, props in _declared_plots().items():
        template = props.get("template", "linear")
        assert template in BUILT_IN or template in TEMPLATES, (name, template)
        if "x" in props:
            assert props.get("x_label") and props.get("y_label"), f"{name}: axis titles in words"
            assert template != "linear", f"{name}: DVC's default template draws a smoothing slider"
            assert props.get("title") or not name.endswith(".csv"), f"{name}: a title in words, not the file's path"


def test_labelled_points_take_sb_blue_and_lb_red_from_the_first_two_rows():
    from stages.plot_templates import LB, SB

    for name, props in _declared_plots().items():
        if props.get("template") == "labelled_points_log_x":
            (path, _), = props["y"].items()
            first, second = (REPO / path).read_text().splitlines()[1:3]
            assert first.startswith("SB") and second.startswith("LB"), (name, first, second)
    color = TEMPLATES["labelled_points_log_x"]["encoding"]["color"]
    assert color["sort"] is None and color["scale"]["range"][:2] == [SB, LB]
    assert not {SB, LB} & set(color["scale"]["range"][2:])


def _log_axes(template: str) -> set[str]:
    spec = TEMPLATES.get(template, {})
    return {axis for axis in ("x", "y") if spec.get("encoding", {}).get(axis, {}).get("scale", {}).get("type") == "log"}


def _browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    return sync_playwright, chromium


@pytest.mark.pipeline
def test_dvc_plots_diff_renders_every_chart_offline(tmp_path):
    sync_playwright, chromium = _browser()
    out = tmp_path / "dvc_plots"
    result = subprocess.run([sys.executable, "-m", "dvc", "plots", "diff", "-o", str(out)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    html = (out / "index.html").read_text(encoding="utf8")
    charts = len(re.findall(r"vegaEmbed\('#", html))  # one call per chart in DVC's divs (the bundle defines it)
    assert charts >= 10, charts
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(offline=True)

        def only_files(route):
            requests.append(route.request.url)
            route.continue_() if route.request.url.startswith("file:") else route.abort()

        context.route("**/*", only_files)
        page = context.new_page()
        # Vega-Lite's warnings too (a channel misused, a field it cannot find): each is a chart drawn other than meant
        page.on("console", lambda message: errors.append(message.text) if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((out / "index.html").as_uri(), wait_until="load")
        # a drawn chart: a .vega-embed holding Vega's rendered view (an svg or canvas of class "marks")
        drawn = "[...document.querySelectorAll('.vega-embed')].filter(e => e.querySelector('svg.marks, canvas.marks')).length"
        page.wait_for_function(f"{drawn} >= {charts}", timeout=30_000)
        rendered = page.evaluate(drawn)
        # data drawn in each: Vega's data marks (lines, points, bars) sit in groups of role "mark", apart from axes
        # and legends; a mark whose colour the scale could not give (a regime the template failed to tell) is drawn
        # with neither fill nor stroke, i.e. not at all. This catches a chart with no visible data, not one that
        # lost a single regime's colour (the colour scales are checked above, e.g. test_labelled_points_take_sb_blue_…)
        marks = page.evaluate("[...document.querySelectorAll('.vega-embed')].map(e => [...e.querySelectorAll('svg.marks g.role-mark > path')]"
                              ".filter(p => [p.getAttribute('fill'), p.getAttribute('stroke')].some(c => c && c !== 'none' && c !== 'transparent')).length)")
        images = page.evaluate("document.images.length")
        loaded = page.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth > 0).length")
        browser.close()
    assert rendered == charts and images >= 5 and loaded == images, (rendered, charts, loaded, images)
    assert len(marks) == charts and min(marks) > 0, marks
    specs = {spec["title"]["text"]: spec for spec in (json.loads(m) for m in re.findall(r"var spec = (\{.*?\});\n", html))}
    logged = {_shown_title(name, props): _log_axes(props.get("template", "linear")) for name, props in _declared_plots().items()}
    assert sum(map(bool, logged.values())) >= 8, logged
    for name, axes in logged.items():
        if axes:
            drawn_axes = {a for a in ("x", "y") if specs[name]["encoding"][a].get("scale", {}).get("type") == "log"}
            assert drawn_axes == axes, name
    assert not errors, sorted(set(errors))
    assert all(url.startswith("file:") for url in requests), [u for u in requests if not u.startswith("file:")]
