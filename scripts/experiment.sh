# Sourced by the scripts that run a named DVC experiment and keep its result in results/<name>/.
# start_experiment <results folder>: refuses a folder that exists or a params.yaml that differs from the commit
# (the experiment starts from the committed one and params.yaml is reset when the script stops), and sets
# `commit` to the short hash the result is recorded with.
start_experiment() {
  if [ -e "$1" ]; then
    echo "$1 exists: remove it to run again" >&2
    exit 1
  fi
  if ! git diff --quiet -- params.yaml; then
    echo "params.yaml differs from the commit: commit or stash your changes, or \`git checkout params.yaml\` to reset it" >&2
    exit 1
  fi
  trap 'git checkout -q -- params.yaml' EXIT
  commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- lbgap stages dvc.yaml || echo "+uncommitted changes")
}
