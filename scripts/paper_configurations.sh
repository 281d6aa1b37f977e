#!/usr/bin/env bash
# The paper's CIFAR configurations (Table 2: C1, C2 on CIFAR-10; C3, C4 on CIFAR-100) end to end on a CUDA
# machine, each as a named DVC experiment of the pipeline's core stages (training, sharpness in both
# spaces at the paper's ε, interpolation with recomputed BN statistics), its result kept in
# results/<name>/ (report.md, summary.json, figures, the stage documents) with the command and wall time.
#
#   scripts/paper_configurations.sh                 # C1 C2 C3 C4
#   scripts/paper_configurations.sh C2 C4           # some of them
#   MAX_EPOCHS=300 scripts/paper_configurations.sh  # another epoch cap (default 200; the stopping rule usually ends runs first)
#   scripts/paper_configurations.sh fashion-mnist-F1   # the Fashion-MNIST F1 run of results/ (runs on a CPU too)
#
# Run it in a clone with CIFAR where torchvision finds it (data.root, default datasets/; it downloads when
# allowed). A configuration whose results folder exists is skipped; an interrupted one continues where
# its training stopped (the train stages resume) when the script is run again. Commit results/ afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

COMMON=(-S seeds=5 -S data.num_train=null -S data.num_test=null -S data.standardize=false -S "train.max_epochs=${MAX_EPOCHS:-200}")
declare -A CONFIG=(
  [cifar10-C1]="-S data.name=cifar10 -S runtime.model=C1 -S batch=5000 -S runtime.eval_chunk=2000"
  [cifar10-C2]="-S data.name=cifar10 -S runtime.model=C2 -S batch=5000 -S runtime.eval_chunk=500"
  [cifar100-C3]="-S data.name=cifar100 -S runtime.model=C3 -S batch=5000 -S runtime.eval_chunk=2000"
  [cifar100-C4]="-S data.name=cifar100 -S runtime.model=C4 -S batch=5000 -S runtime.eval_chunk=500"
  [fashion-mnist-F1]="-S data.name=fashion-mnist -S runtime.model=F1 -S batch=6000"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(cifar10-C1 cifar10-C2 cifar100-C3 cifar100-C4)

for name in "${names[@]}"; do
  [ -n "${CONFIG[$name]:-}" ] || { echo "unknown configuration: $name (known: ${!CONFIG[*]})" >&2; exit 2; }
done
# each experiment starts from the committed params.yaml (the script resets it between them): keep yours safe
git diff --quiet -- params.yaml || { echo "params.yaml has uncommitted changes: commit or stash them first" >&2; exit 1; }

for name in "${names[@]}"; do
  if [[ $name == cifar* ]] && ! python -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "$name: torch sees no CUDA GPU; the CIFAR networks are days of CPU time (install a CUDA build of torch)" >&2
    exit 1
  fi
  if [ -e "results/$name" ]; then
    echo "$name: results/$name exists, skipped"
    continue
  fi
  read -r -a sets <<< "${CONFIG[$name]}"
  command=(dvc exp run -n "$name" "${COMMON[@]}" "${sets[@]}" sharpness@sb sharpness@lb interpolate)
  git checkout -q -- params.yaml  # each experiment from the committed params, not the previous one's
  start=$(date +%s)
  "${command[@]}"
  seconds=$(( $(date +%s) - start ))
  python -m stages.core_report --out "results/$name" --command "${command[*]}" --seconds "$seconds" \
    --commit "$(git rev-parse --short HEAD)"
  echo "$name: results/$name written (${seconds} s)"
done
