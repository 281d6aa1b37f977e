#!/usr/bin/env bash
# The full learning-rate × batch-size grid (docs/theory.md) on the default data and network, as the named DVC
# experiment `full-grid`: SGD and Adam, 5 batch sizes from 64 to the LB size, 5 log-spaced learning rates per
# optimizer spanning both scaling rules, 2 seeds — 100 runs, each trained to train.target_loss and measured
# there; the first seed's runs record their stability ratio every 5 epochs along training. Its table, fits, figure and report section are kept in results/full-grid/ with the command, wall time
# and commit (run.json).
#
#   scripts/full_grid.sh     # 64 min on 2 CPU cores without the records along training, which add to it (2026-12-04:
#                            # its SGD cells alone took 70 min beside other work), after a default `dvc repro`
#
# Interrupted, it continues when run again in the same workspace: the grid@ cells that finished are in its dvc.lock
# and skipped (not in DVC's run cache: their outputs are uncached metrics, so leave dvc.lock and metrics/grid as
# they are). The results folder is written only at the end; commit it afterwards. The same settings split across machines:
# docs/scaling.md, "The grid across machines".
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
out=results/full-grid
. scripts/experiment.sh
start_experiment "$out"
command=(dvc exp run -n full-grid -S "grid.batches=[64,128,256,512,1000]" -S "grid.learning_rates.sgd=[0.01,0.022,0.05,0.11,0.25]"
         -S "grid.learning_rates.adam=[0.0002,0.00045,0.001,0.0022,0.005]" -S grid.seeds=2 -S grid.edge_every=5 report)
start=$(date +%s)
"${command[@]}"
seconds=$(( $(date +%s) - start ))
mkdir -p "$out.partial/cells"
cp metrics/grid_summary.json plots/grid.csv plots/grid_edge.csv plots/figures/grid.png "$out.partial/"
cp metrics/grid/*.json "$out.partial/cells/"
"$PYTHON" - "$out.partial" "${command[*]}" "$seconds" "$commit" <<'PY'
import json, re, sys
from pathlib import Path
out, command, seconds, commit = Path(sys.argv[1]), *sys.argv[2:]
report = Path("report.md").read_text()
section = re.search(r"^## Why large batches find sharp minima.*?(?=^## )", report, re.S | re.M).group(0)
(out / "report.md").write_text(section.replace("plots/figures/grid.png", "grid.png"))
json.dump({"command": command, "seconds": int(seconds), "commit": commit}, open(out / "run.json", "w"), indent=1)
PY
mv "$out.partial" "$out"
echo "$out written (${seconds} s); the workspace holds the experiment's outputs: \`git checkout . && dvc checkout\` returns to the commit"
