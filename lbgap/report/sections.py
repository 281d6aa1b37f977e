"""The sections both reports share — the full report of `dvc repro` (lbgap.report.markdown) and the core
report of a run that ran only the paper's stages (lbgap.report.core) — each a function returning its
markdown, heading included, so that each exists once."""

from __future__ import annotations

from typing import Mapping

import yaml

from lbgap.report.numbers import distance_ratio
from lbgap.report.paper import DATA_OF, comparison_table, paper_quantities, paper_row
from lbgap.report.tables import accuracy_table, pm, sharpness_table


def label_of(params: Mapping) -> str:
    return f"{params['runtime']['model']} on {params['data']['name']}"


def run_header(title: str, params: Mapping, train: Mapping, parameters: int, note: str = "") -> str:
    """A report's title and the line saying what ran: batch sizes, seeds, the network's size (`note`: appended)."""
    seeds = len(train["sb"]["per_seed"])
    return f"""# {title}: {label_of(params)}

SB batch {train['sb']['batch_size']}, LB batch {train['lb']['batch_size']}, {seeds} seed(s); {parameters:,} parameters.{note}
Values are mean ± sample std over seeds."""


def distance_text(train: Mapping) -> str:
    """The SB/LB ratio of the distance travelled from the shared start, mean ± std and per seed."""
    ratio = distance_ratio(train)
    return f"""Distance from the start, ‖x_SB − x0‖ / ‖x_LB − x0‖ (SB and LB of a seed share x0; paper: 3–10):
**{pm(ratio)}** ({', '.join(f"seed {r['seed']}: {r['ratio']:.2f}" for r in ratio['per_seed'])})."""


def paper_tables(params: Mapping, train: Mapping, sharpness: Mapping, numbers: Mapping) -> str:
    """The paper's Tables 2–4 for this run, its accuracy gap and the LB/SB ratios of φ (`numbers`: the
    headline numbers, lbgap.report.numbers.headline)."""
    label = label_of(params)
    ratios = ", ".join(f"{space} {key.replace('eps_', 'ε=')}: {v['lb_over_sb']:.1f}×" for space, by_eps in numbers["sharpness"].items()
                       for key, v in by_eps.items() if v["lb_over_sb"] is not None)
    return f"""## Accuracy (%) — cf. the paper's Table 2

{accuracy_table(label, train)}

Test-accuracy gap SB − LB: **{numbers['test_acc_pct']['gap']:.2f} points**.

## Sharpness φ, full space (A = I) — cf. Table 3

{sharpness_table(label, sharpness, 'full')}

## Sharpness φ, random {sharpness['sb']['subspace_dim']}-dimensional subspace — cf. Table 4

{sharpness_table(label, sharpness, 'subspace')}

LB/SB ratio of mean φ: {ratios}."""


def beside_paper(params: Mapping, train: Mapping, sharpness: Mapping) -> str:
    """The paper's published row beside this run's: the same configuration, or a reference only."""
    net, same = paper_row(str(params["runtime"]["model"]), str(params["data"]["name"]))
    intro = (f"This run is the paper's configuration {net} ({DATA_OF[net]}): its published numbers, ours and the difference; "
             "protocol details may differ (see the parameters)." if same else
             f"This run is not one of the paper's configurations; the paper's {net} ({DATA_OF[net]}) row is shown as a "
             "reference only — φ and accuracies are not comparable across networks and data sets.")
    return f"""## Beside the paper

{intro}

{comparison_table(net, same, paper_quantities(train, sharpness))}"""


def parameters(params: Mapping) -> str:
    return f"""## Parameters of this run

```yaml
{yaml.safe_dump(dict(params), sort_keys=False, default_flow_style=None).strip()}
```"""
