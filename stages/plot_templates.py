"""`python -m stages.plot_templates`: write lbgap's DVC plot templates (.dvc/plots/<name>.json, named by
`template:` in dvc.yaml's `plots`): Vega-Lite specs with log axes where values span decades, accuracies
in percent, SB and LB in the colours of every PNG of the report, revisions by dash or shape, and no smoothing
slider (the series are short). The templates are committed; this command rewrites them, and a test
checks that the committed ones are what it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stages.outputs import stage, write_text
from stages.options import run

app = typer.Typer(add_completion=False)

# the Vega-Lite of the page DVC renders them in (.dvc/plots/offline.html, stages.offline_plots: 6.4.1); a spec
# declaring another major version is drawn with a console warning, which the rendering test refuses
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
SB, LB = "#1f77b4", "#d62728"  # matplotlib's tab:blue and tab:red, as every PNG of the report
# the rest of matplotlib's tab20 for labelled points, blues and reds left out so that they mean SB and LB alone
OTHERS = ["#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#ffbb78", "#98df8a",
          "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"]
REGIME = ("test(/_sb[.]csv$/, datum.filename) ? 'SB' : test(/_lb[.]csv$/, datum.filename) ? 'LB' : datum.filename")
# SB and LB told by the y field instead (warm start: sb_test_accuracy, lb_test_accuracy of one file); DVC writes a
# `field` column only for several y fields, so a chart of one names its field through the anchor
FIELD = "(datum.field || '<DVC_METRIC_Y>')"
REGIME_OF_FIELD = f"test(/^sb_/, {FIELD}) ? 'SB' : test(/^lb_/, {FIELD}) ? 'LB' : {FIELD}"


def template(mark: str, *, log_x: bool = False, log_y: bool = False, percent: bool = False, regimes: str | None = None,
             seeds: bool = False, label: str | None = None, reverse_x: bool = False) -> dict:
    """A Vega-Lite spec with DVC's anchors: `mark` line or point; log axes (`reverse_x`: x decreasing to the
    right); y read as a percentage of a fraction; `regimes`: colour by SB/LB, told by the file name ("file":
    *_sb.csv / *_lb.csv) or the y field ("field": sb_… / lb_…); `seeds`: one line per seed; `label`: colour
    and shape by that column of the data (each point named in the legend and its tooltip)."""
    x = {"field": "<DVC_METRIC_X>", "type": "quantitative", "title": "<DVC_METRIC_X_LABEL>"}
    y = {"field": "<DVC_METRIC_Y>", "type": "quantitative", "title": "<DVC_METRIC_Y_LABEL>", "scale": {"zero": False}}
    if log_x:
        x["scale"] = {"type": "log"}
        x["axis"] = {"labelOverlap": "greedy", "labelSeparation": 6}  # a decade's 2,000 and 3,000 would touch
    if reverse_x:
        x.setdefault("scale", {})["reverse"] = True
    if log_y:
        y["scale"] = {"type": "log"}
    transform = []
    if percent:  # the CSVs hold fractions; read in percent, as the report does
        transform.append({"calculate": "100 * datum['<DVC_METRIC_Y>']", "as": "<DVC_METRIC_Y>"})
    encoding = {"x": x, "y": y, "tooltip": "<DVC_METRIC_TOOLTIP>"}
    if regimes:  # SB and LB in their colours; revisions by dash (lines) or shape (points)
        transform.append({"calculate": REGIME if regimes == "file" else REGIME_OF_FIELD, "as": "regime"})
        encoding["color"] = {"field": "regime", "type": "nominal", "title": None,
                             "scale": {"domain": ["SB", "LB"], "range": [SB, LB]}}
        encoding["strokeDash" if mark == "line" else "shape"] = {"field": "rev", "type": "nominal", "title": "revision"}
    elif label:  # e.g. each remedy by name; revisions by the points' fill
        # colours in the data's order (sort null), whose first two rows are plain SB and plain LB: blue and red
        encoding["color"] = {"field": label, "type": "nominal", "title": None, "sort": None, "scale": {"range": [SB, LB, *OTHERS]}}
        encoding["shape"] = {"field": label, "type": "nominal", "title": None, "sort": None}  # one legend with the colours
        # ordinal: Vega-Lite warns that opacity misleads on a nominal field (revisions have no order; it is only told apart)
        encoding["opacity"] = {"field": "rev", "type": "ordinal", "title": "revision", "scale": {"range": [1, 0.35]}}
        encoding["tooltip"] = [{"field": label, "type": "nominal"}, {"field": "<DVC_METRIC_X>", "type": "quantitative"},
                               {"field": "<DVC_METRIC_Y>", "type": "quantitative"}, {"field": "rev", "type": "nominal"}]
    else:  # each y field by its name in words (train loss, test loss), in colours that do not mean SB or LB; revisions by dash
        transform.append({"calculate": f"replace({FIELD}, /_/g, ' ')", "as": "series"})
        encoding["color"] = {"field": "series", "type": "nominal", "title": None, "scale": {"range": OTHERS}}
        encoding["strokeDash"] = {"field": "rev", "type": "nominal", "title": "revision"}
    if seeds:
        encoding["detail"] = {"field": "seed", "type": "nominal"}
    spec = {
        "$schema": SCHEMA,
        "data": {"values": "<DVC_METRIC_DATA>"},
        "title": {"text": "<DVC_METRIC_TITLE>", "anchor": "middle"},
        "width": "<DVC_METRIC_PLOT_WIDTH>",
        "height": "<DVC_METRIC_PLOT_HEIGHT>",
        "params": ["<DVC_METRIC_ZOOM_AND_PAN>"],
        # points on short lines (one per batch size, ε, α); per-seed curves of hundreds of epochs without
        "mark": {"type": mark, "tooltip": {"content": "data"}, **({"filled": True} if mark == "point" else {"point": not seeds})},
        "encoding": encoding,
    }
    if transform:
        spec["transform"] = transform
    return spec


def bars() -> dict:
    """Horizontal bars of x (e.g. Kendall τ, on [−1, 1]) for each y category in the data's order, one bar per
    revision side by side; a rule at 0."""
    x = {"field": "<DVC_METRIC_X>", "type": "quantitative", "title": "<DVC_METRIC_X_LABEL>", "scale": {"domain": [-1, 1]}}
    y = {"field": "<DVC_METRIC_Y>", "type": "nominal", "title": "<DVC_METRIC_Y_LABEL>", "sort": None}
    return {
        "$schema": SCHEMA,
        "data": {"values": "<DVC_METRIC_DATA>"},
        "title": {"text": "<DVC_METRIC_TITLE>", "anchor": "middle"},
        "width": "<DVC_METRIC_PLOT_WIDTH>",
        "height": "<DVC_METRIC_PLOT_HEIGHT>",
        "layer": [
            {"mark": {"type": "bar", "tooltip": {"content": "data"}},
             "encoding": {"x": x, "y": y, "yOffset": {"field": "rev", "type": "nominal"},
                          "color": {"field": "rev", "type": "nominal", "title": "revision"}}},
            {"mark": {"type": "rule", "color": "gray"}, "encoding": {"x": {"datum": 0}}},
        ],
    }


TEMPLATES = {
    "seeds": template("line", regimes="file", seeds=True),  # per-seed curves; older revisions' dvc.yaml names it
    "seeds_percent": template("line", regimes="file", seeds=True, percent=True),
    "seeds_log_y": template("line", regimes="file", seeds=True, log_y=True),
    "line_percent": template("line", percent=True),
    "line_log_y": template("line", log_y=True),
    "line_log_x": template("line", log_x=True),
    "line_log_xy": template("line", log_x=True, log_y=True),
    "regimes_log_xy": template("line", log_x=True, log_y=True, regimes="file"),
    "regimes_percent": template("line", percent=True, regimes="field"),
    "regimes_log_y": template("line", log_y=True, regimes="field"),
    "labelled_points_log_x": template("point", log_x=True, label="training"),
    "regime_points_log_xy_decreasing": template("point", log_x=True, log_y=True, regimes="file", reverse_x=True),
    "bars": bars(),
}

def text_of(spec: dict) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


@app.command()
@stage
def main(folder: Annotated[Path, typer.Option(help="DVC's templates folder.")] = Path(".dvc/plots")) -> None:
    """Write every template of TEMPLATES as <folder>/<name>.json."""
    for name, spec in TEMPLATES.items():
        write_text(folder / f"{name}.json", text_of(spec))


if __name__ == "__main__":
    run(app)
