#!/usr/bin/env bash
# The designed predictor study at full size (docs/measures.md, "The designed study"): 4 batch
# sizes × 2 learning rates × 2 widths × 2 depths × 2 weight decays × 2 dropout rates, 2 seeds — 256 networks, each
# trained to train.target_loss and measured there. One stage per batch size (`study@<batch>`, 64 networks), so the
# cells can run in several sittings or on several machines, each kept as a shard folder in the repository, and
# gathered at the end:
#
#   scripts/study_grid.sh cells study@512 study@1000   # run these cells: results/study-grid/shards/study-512+study-1000/
#   scripts/study_grid.sh cells study@128 study@256    # … the others, from the same commit's code
#   scripts/study_grid.sh gather                       # every shard's cells (refused if they ran other code,
#                                                      # params or data), the scores, the report section: results/study-grid/
#   scripts/study_grid.sh score                        # the same with this checkout's statistics when the code the
#                                                      # cells ran with has moved on since (params and data must agree;
#                                                      # run.json lists the code that differs): results/study-grid/ replaced
#
# A shard holds the dvc.lock its cells ran with, their outputs at their paths and run.json (command, wall
# time, commit); commit it. `gather` needs every cell of the design in some shard.
#
# Why these values (a training-only pilot, 2026-12-04, seed 3000, batch 1000, one-off): a 128-wide 2-layer MLP did
# not reach cross-entropy 0.01 in 200 epochs at η = 0.02; 256×3 reached it in 23–26 epochs at η = 0.05–0.2, and in
# 62–83 epochs with weight decay 1e-4 and dropout 0.1; 512×4 in 14–21 epochs (35 with both at η = 0.05). Hence widths 256/512, depths 3/4,
# η 0.05/0.2 and a 120-epoch cap; weight decay 5e-4 kept the default's batch-64 runs from the target in 60 epochs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
out=results/study-grid
design=(-S "study.batch_sizes=[128,256,512,1000]" -S "study.learning_rates=[0.05,0.2]" -S "study.widths=[256,512]"
        -S "study.depths=[3,4]" -S "study.weight_decays=[0,0.0001]" -S "study.dropouts=[0,0.1]" -S study.seeds=2
        -S study.max_epochs=120)
. scripts/experiment.sh

case "${1:-}" in
cells)
  shift
  [ $# -gt 0 ] || { echo "error: name the cells, e.g. study@512 study@1000" >&2; exit 2; }
  shard="$out/shards/$(IFS=+; echo "$*" | tr '@' '-')"
  start_experiment "$shard"
  command=(dvc exp run "${design[@]}" "$@")
  start=$(date +%s)
  "${command[@]}"
  seconds=$(( $(date +%s) - start ))
  rm -rf "$shard.partial" && mkdir -p "$shard.partial/metrics/study"
  cp dvc.lock "$shard.partial/"
  for cell in "$@"; do cp "metrics/study/b${cell#study@}.json" "$shard.partial/metrics/study/"; done
  "$PYTHON" -c 'import json, sys; json.dump({"command": sys.argv[2], "seconds": int(sys.argv[3]), "commit": sys.argv[4]}, open(sys.argv[1], "w"), indent=1)' \
    "$shard.partial/run.json" "${command[*]}" "$seconds" "$commit"
  mv "$shard.partial" "$shard"
  echo "$shard written (${seconds} s); commit it. \`git checkout . && dvc checkout\` returns the workspace to the commit"
  ;;
gather|score)
  mode=$1
  [ -d "$out/shards" ] || { echo "error: no shards in $out/shards: run \`$0 cells …\` first" >&2; exit 1; }
  if [ "$mode" = score ]; then
    flag=--code-may-differ
    start_experiment "$out/scores.partial"  # the scores are rewritten; the shards stay
  else
    flag=
    start_experiment "$out/report.md"
  fi
  # the design's params, as `dvc exp run -S` writes them, so that each cell is recorded against them
  "$PYTHON" - "${design[@]}" <<'PY'
import sys, yaml
params = yaml.safe_load(open("params.yaml"))
for setting in sys.argv[2::2]:
    key, value = setting.split("=", 1)
    *path, last = key.split(".")
    section = params
    for part in path:
        section = section[part]
    section[last] = yaml.safe_load(value)
yaml.safe_dump(params, open("params.yaml", "w"), sort_keys=False)
PY
  dvc repro prepare  # the data every cell depends on, as the shards had it (generated, so the same bytes)
  rm -f metrics/study/b*.json  # only the shards' cells are scored, never this checkout's own (the default design's)
  gathered=()
  for shard in "$out"/shards/*/; do
    case "$shard" in *.partial/) continue ;; esac  # a `cells` run that did not finish
    for cell in "$shard"metrics/study/b*.json; do
      [ -e "$cell" ] || continue
      stage="study@$(basename "$cell" .json | sed 's/^b//')"
      if printf '%s\n' "${gathered[@]}" | grep -qx "$stage"; then echo "error: $stage is in two shards; keep one" >&2; exit 1; fi
      "$PYTHON" scripts/gather_cells.py $flag "$shard" "$stage" | tee -a "$out/.gathered.log"
      gathered+=("$stage")
    done
  done
  for batch in $("$PYTHON" -c 'import yaml; print(*yaml.safe_load(open("params.yaml"))["study"]["batch_sizes"])'); do
    printf '%s\n' "${gathered[@]}" | grep -qx "study@$batch" || { echo "error: no shard holds study@$batch: run \`$0 cells study@$batch\`" >&2; exit 1; }
  done
  cells=${#gathered[@]}
  differs=$(sed -n 's/.*its code differs: \(.*\))$/\1/p' "$out/.gathered.log" | tr ',' '\n' | sed 's/^ *//' | sort -u | paste -sd, -)
  rm -f "$out/.gathered.log"
  start=$(date +%s)
  dvc repro -s study_summary  # only this stage: every cell it reads was gathered above
  dvc repro -s report
  seconds=$(( $(date +%s) - start ))
  mkdir -p "$out"
  cp metrics/study_summary.json plots/study.csv plots/figures/study.png "$out/"
  "$PYTHON" - "$out" "$cells" "$seconds" "$commit" "$mode" "$differs" <<'PY'
import json, re, sys
from pathlib import Path
out, cells, seconds, commit, mode, differs = Path(sys.argv[1]), *sys.argv[2:]
report = Path("report.md").read_text()
section = re.search(r"^## Which measure predicts generalization: a designed study.*?(?=^## |\Z)", report, re.S | re.M).group(0)
(out / "report.md").write_text(section.replace("plots/figures/study.png", "study.png").replace("plots/study.csv", "study.csv"))
runs = [{"shard": p.parent.name, **json.loads(p.read_text())} for p in sorted(out.glob("shards/*/run.json")) if not p.parent.name.endswith(".partial")]
record = {"cells": int(cells), "shards": runs, "cell_seconds": sum(r["seconds"] for r in runs),
          "gather_seconds": int(seconds), "commit": commit}
if mode == "score":  # the cells ran at the shards' commits; this commit's statistics scored them
    record |= {"scored_at": commit, "code_differs": [path for path in differs.split(",") if path]}
json.dump(record, open(out / "run.json", "w"), indent=1)
PY
  echo "$out written; commit it. \`git checkout . && dvc checkout\` returns the workspace to the commit"
  ;;
*)
  echo "usage: $0 cells <study@batch> … | $0 gather | $0 score" >&2
  exit 2
  ;;
esac
