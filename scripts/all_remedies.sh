#!/usr/bin/env bash
# Every registered remedy on the default data and network, each tuned on the validation split and trained
# with `mitigation_seeds` seeds (and its own SB control where it changes the training method), as the named
# DVC experiment `all-remedies` of the whole pipeline; its report, remedy table, figures and the tune and
# mitigate documents kept in results/all-remedies/ with the command, wall time and commit (run.json).
#
#   scripts/all_remedies.sh     # about 1 h on 2 CPU cores after a default `dvc repro` (its stages are reused; 64 min on 2026-12-05)
#
# Interrupted, it continues when run again in the same workspace: finished stages are in its dvc.lock and skipped
# (not in DVC's run cache, which keeps no stage with uncached outputs: leave dvc.lock and metrics/ as they are), a
# mitigate@ stage's training resumes where it stopped, and an interrupted tune@ stage starts over. The results folder is
# written only at the end; commit it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
out=results/all-remedies
. scripts/experiment.sh
start_experiment "$out"
remedies=$("$PYTHON" -c "from lbgap.remedies.registry import list_strategies; print(','.join(list_strategies()))")
command=(dvc exp run -n all-remedies -S "remedies=[$remedies]")
start=$(date +%s)
"${command[@]}"
seconds=$(( $(date +%s) - start ))
mkdir -p "$out.partial/tuning" "$out.partial/mitigation" "$out.partial/figures"
cp report.md metrics/summary.json metrics/headline.json plots/remedies.csv "$out.partial/"
cp metrics/tuning/*.json "$out.partial/tuning/"
cp metrics/mitigation/*.json "$out.partial/mitigation/"
cp plots/figures/mitigation.png plots/figures/gap_closed.png plots/figures/updates.png "$out.partial/figures/"
"$PYTHON" - "$out.partial/run.json" "${command[*]}" "$seconds" "$commit" <<'PY'
import json, sys
path, command, seconds, commit = sys.argv[1:]
json.dump({"command": command, "seconds": int(seconds), "commit": commit}, open(path, "w"), indent=1)
PY
mv "$out.partial" "$out"
echo "$out written (${seconds} s); the workspace holds the experiment's outputs: \`git checkout . && dvc checkout\` returns to the commit"
