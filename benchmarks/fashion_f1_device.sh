#!/usr/bin/env bash
# F1 on Fashion-MNIST with BN by batch statistics on an accelerator with no dvc: the stage commands of dvc.yaml
# (prepare, train@sb/lb, sharpness@lb/sb, interpolate) with the settings of
# `scripts/paper_configurations.sh F1-fashion-batch`, run directly; the stage outputs are copied to $OUT (default
# out/) as each stage ends. On 2 CPU cores this configuration takes hours; on an H200 about 12 min, so it runs
# in two sittings on a machine that keeps its workspace between them:
#
#   FASHION_GZ=<folder with the four .gz files> bash benchmarks/fashion_f1_device.sh train
#   bash benchmarks/fashion_f1_device.sh measure
#
# (`all` runs both.) The settings are applied to params.yaml each time, since a fresh copy of the working tree
# puts the committed params.yaml back. `python -m benchmarks.fashion_f1_device <OUT>` then writes the headline
# numbers. A GPU does not reproduce a CPU run: floating point differs from the first update, so these are other
# networks of the same configuration than `scripts/paper_configurations.sh` would train on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
OUT=${OUT:-out}
PYTHON=${PYTHON:-python3}
phase=${1:-all}
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$OUT/times.txt"; }
mkdir -p "$OUT/metrics" "$OUT/plots" models data datasets
"$PYTHON" -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" | tee "$OUT/versions.txt"
"$PYTHON" - <<'PY'
import yaml
p = yaml.safe_load(open("params.yaml"))
p["seeds"], p["batch"] = 5, 6000
p["data"].update(name="fashion-mnist", num_train=None, num_test=None, validation=0, standardize=False)
p["train"]["max_epochs"] = 200
p["runtime"].update(model="F1", batchnorm="batch")
yaml.safe_dump(p, open("params.yaml", "w"), sort_keys=False)
PY
cp params.yaml "$OUT/params.yaml"
if [ "$phase" = train ] || [ "$phase" = all ]; then
  cp "${FASHION_GZ:?name the folder with Fashion-MNIST\'s .gz files}"/*.gz datasets/
  "$PYTHON" -m stages.prepare --out data/dataset.npz; stamp prepare
  for r in sb lb; do
    "$PYTHON" -m stages.train $r --data data/dataset.npz --models models/$r --iterates models/${r}_iterates --metrics metrics/train_$r.json --curves plots/train_$r.csv
    cp metrics/train_$r.json "$OUT/metrics/"; cp plots/train_$r.csv "$OUT/plots/"; stamp train@$r
  done
fi
if [ "$phase" = measure ] || [ "$phase" = all ]; then
  for r in lb sb; do
    "$PYTHON" -m stages.sharpness --data data/dataset.npz --models models/$r --out metrics/sharpness_$r.json
    cp metrics/sharpness_$r.json "$OUT/metrics/"; stamp sharpness@$r
  done
  "$PYTHON" -m stages.interpolate --data data/dataset.npz --sb-models models/sb --lb-models models/lb --out plots/interpolation.csv \
    --figure plots/interpolation.png --curved-out plots/interpolation_curvilinear.csv --curved-figure plots/interpolation_curvilinear.png
  cp plots/interpolation.csv plots/interpolation.png "$OUT/plots/"; stamp interpolate
fi
