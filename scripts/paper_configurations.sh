#!/usr/bin/env bash
# The paper's CIFAR configurations (Table 2: C1, C2 on CIFAR-10; C3, C4 on CIFAR-100) end to end on a CUDA
# machine, each as a named DVC experiment of the pipeline's core stages (training, sharpness in both
# spaces at the paper's ε, interpolation with recomputed BN statistics), its result kept in
# results/<name>/ (report.md, summary.json, figures, the stage documents) with the command and wall time.
#
#   scripts/paper_configurations.sh                 # C1 C2 C3 C4
#   scripts/paper_configurations.sh C2 C4           # some of them (or their folder names: cifar10-C2, …)
#   MAX_EPOCHS=300 scripts/paper_configurations.sh  # another epoch cap (default 200; the stopping rule usually ends runs first)
#   scripts/paper_configurations.sh F1-fashion      # F1 on Fashion-MNIST (results/fashion-mnist-F1; a CPU will do, slowly)
#   scripts/paper_configurations.sh F1-fashion-batch  # the same with BN evaluated by batch statistics, the authors' mode
#
# Run it in a clone with CIFAR where torchvision finds it (data.root, default datasets/; it downloads when
# allowed). A configuration whose results folder exists is skipped. An interrupted one continues where its
# training stopped (the train stages resume) when the script is run again. Commit results/ afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}

folder_of() {  # short name or folder name → results folder name
  case $1 in
    C1|cifar10-C1) echo cifar10-C1 ;;
    C2|cifar10-C2) echo cifar10-C2 ;;
    C3|cifar100-C3) echo cifar100-C3 ;;
    C4|cifar100-C4) echo cifar100-C4 ;;
    F1-fashion|fashion-mnist-F1) echo fashion-mnist-F1 ;;
    F1-fashion-batch|fashion-mnist-F1-batchnorm-batch) echo fashion-mnist-F1-batchnorm-batch ;;
    *) return 1 ;;
  esac
}

settings_of() {  # results folder name → the -S settings beyond the common ones
  case $1 in
    cifar10-C1) echo "-S data.name=cifar10 -S runtime.model=C1 -S batch=5000 -S runtime.eval_chunk=2000" ;;
    cifar10-C2) echo "-S data.name=cifar10 -S runtime.model=C2 -S batch=5000 -S runtime.eval_chunk=500" ;;
    cifar100-C3) echo "-S data.name=cifar100 -S runtime.model=C3 -S batch=5000 -S runtime.eval_chunk=2000" ;;
    cifar100-C4) echo "-S data.name=cifar100 -S runtime.model=C4 -S batch=5000 -S runtime.eval_chunk=500" ;;
    fashion-mnist-F1) echo "-S data.name=fashion-mnist -S runtime.model=F1 -S batch=6000" ;;
    fashion-mnist-F1-batchnorm-batch) echo "-S data.name=fashion-mnist -S runtime.model=F1 -S batch=6000 -S runtime.batchnorm=batch" ;;
  esac
}

requested=("$@")
[ ${#requested[@]} -gt 0 ] || requested=(C1 C2 C3 C4)
names=()
for name in "${requested[@]}"; do
  folder=$(folder_of "$name") || { echo "unknown configuration: $name (known: C1 C2 C3 C4 F1-fashion F1-fashion-batch)" >&2; exit 2; }
  names+=("$folder")
  if [[ $folder == cifar* ]] && ! "$PYTHON" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "$name: torch sees no CUDA GPU; the CIFAR networks are days of CPU time (install a CUDA build of torch)" >&2
    exit 1
  fi
done
# Each experiment starts from the committed params.yaml, and the script resets it when it stops: refuse to
# start over changes of yours (a run of this script killed with SIGKILL also leaves its settings there).
if ! git diff --quiet -- params.yaml; then
  echo "params.yaml differs from the commit: commit or stash your changes, or \`git checkout params.yaml\` to reset it" >&2
  exit 1
fi
trap 'git checkout -q -- params.yaml' EXIT
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- lbgap stages dvc.yaml || echo "+uncommitted changes")

for name in "${names[@]}"; do
  if [ -e "results/$name" ]; then
    echo "$name: results/$name exists, skipped"
    continue
  fi
  if dvc exp list --name-only 2>/dev/null | grep -qx "$name"; then
    echo "$name: experiment $name exists but results/$name does not: \`dvc exp apply $name\` and run" \
         "python -m stages.core_report for it, or \`dvc exp remove $name\` to run it again" >&2
    continue
  fi
  read -r -a sets <<< "$(settings_of "$name")"
  command=(dvc exp run -n "$name" -S seeds=5 -S data.num_train=null -S data.num_test=null -S data.validation=0 -S data.standardize=false
           -S "train.max_epochs=${MAX_EPOCHS:-200}" "${sets[@]}" sharpness@sb sharpness@lb interpolate)
  git checkout -q -- params.yaml  # not the previous experiment's settings
  start=$(date +%s)
  "${command[@]}"
  seconds=$(( $(date +%s) - start ))
  "$PYTHON" -m stages.core_report --out "results/$name" --command "${command[*]}" --seconds "$seconds" --commit "$commit"
  echo "$name: results/$name written (${seconds} s)"
done
