"""`python -m stages.plot_templates`: write lbgap's DVC plot templates (.dvc/plots/<name>.json, named by
`template:` in dvc.yaml's `plots`): Vega-Lite specs with log axes where values span decades, accuracies
in percent, SB and LB in the colours of every PNG of the report, revisions by dash, and no smoothing
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

SB, LB = "#1f77b4", "#d62728"  # matplotlib's tab:blue and tab:red, as every PNG of the report
REGIME = ("test(/_sb[.]csv$/, datum.filename) ? 'SB' : test(/_lb[.]csv$/, datum.filename) ? 'LB' : datum.filename")


def template(mark: str, *, log_x: bool = False, log_y: bool = False, percent: bool = False, regimes: bool = False,
             seeds: bool = False) -> dict:
    """A Vega-Lite spec with DVC's anchors: `mark` line or point; log axes; y read as a percentage of a
    fraction; `regimes`: colour by SB/LB (from the file name, *_sb.csv / *_lb.csv); `seeds`: one line per seed."""
    x = {"field": "<DVC_METRIC_X>", "type": "quantitative", "title": "<DVC_METRIC_X_LABEL>"}
    y = {"field": "<DVC_METRIC_Y>", "type": "quantitative", "title": "<DVC_METRIC_Y_LABEL>", "scale": {"zero": False}}
    if log_x:
        x["scale"] = {"type": "log"}
    if log_y:
        y["scale"] = {"type": "log"}
    transform = []
    if percent:  # the CSVs hold fractions; read in percent, as the report does
        transform.append({"calculate": "100 * datum['<DVC_METRIC_Y>']", "as": "<DVC_METRIC_Y>"})
    encoding = {"x": x, "y": y, "tooltip": "<DVC_METRIC_TOOLTIP>"}
    if regimes:  # SB and LB in their colours; revisions by dash
        transform.append({"calculate": REGIME, "as": "regime"})
        encoding["color"] = {"field": "regime", "type": "nominal", "title": None,
                             "scale": {"domain": ["SB", "LB"], "range": [SB, LB]}}
        encoding["strokeDash"] = {"field": "rev", "type": "nominal", "title": "revision"}
    else:
        encoding["color"] = "<DVC_METRIC_COLOR>"
        encoding["strokeDash"] = "<DVC_METRIC_STROKE_DASH>"
    if seeds:
        encoding["detail"] = {"field": "seed", "type": "nominal"}
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
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


TEMPLATES = {
    "seeds": template("line", regimes=True, seeds=True),  # per-seed curves; older revisions' dvc.yaml names it
    "seeds_percent": template("line", regimes=True, seeds=True, percent=True),
    "seeds_log_y": template("line", regimes=True, seeds=True, log_y=True),
    "line_percent": template("line", percent=True),
    "line_log_y": template("line", log_y=True),
    "line_log_x": template("line", log_x=True),
    "line_log_xy": template("line", log_x=True, log_y=True),
    "regimes_log_xy": template("line", log_x=True, log_y=True, regimes=True),
    "points_log_x": template("point", log_x=True),
    "regime_points_log_xy": template("point", log_x=True, log_y=True, regimes=True),
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
