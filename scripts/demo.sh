#!/usr/bin/env bash
# make demo: a small real training tracked by mlgit in a temporary repository.
# No server and no network: everything lands on the mlgit branch of that repo.
set -euo pipefail
MLGIT=${MLGIT:-mlgit}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlgit-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export MLGIT GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-mlgit demo}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-demo@example.com}"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "A project repository with a training program"
go build -o "$WORK/bin/logreg" "$ROOT/examples/logreg"
go build -o "$WORK/bin/mlflowclient" "$ROOT/examples/mlflowclient"
export PATH="$WORK/bin:$(dirname "$MLGIT"):$PATH"
cd "$WORK" && mkdir project && cd project
git init -q -b main
printf 'model:\n  kind: logreg\n  epochs: 25\n' > params.yaml
echo "logreg --lr \$1 --l2 \$2 --epochs 25" > train.sh
git add . && git commit -q -m "training code"
echo "\$ mlgit init"
"$MLGIT" init

step "Three hyperparameter settings, each a tracked run (per-epoch metrics streamed)"
for lr in 0.05 0.3 1.0; do
  echo "\$ mlgit run exec --exp churn --name lr-$lr --param lr=$lr --param l2=0.001 --params params.yaml --metrics metrics.json --artifacts out -- logreg --lr $lr --l2 0.001 --epochs 25 --out out"
  rm -rf out
  "$MLGIT" run exec --exp churn --name "lr-$lr" --param lr=$lr --param l2=0.001 --params params.yaml --metrics metrics.json --artifacts out -- \
    logreg --lr $lr --l2 0.001 --epochs 25 --out out
done

step "Runs ordered by validation accuracy"
echo "\$ mlgit run list --exp churn --filter \"metrics.val_acc > 0.5\" --order-by \"metrics.val_acc DESC\""
"$MLGIT" run list --exp churn --filter "metrics.val_acc > 0.5" --order-by "metrics.val_acc DESC"

BEST=$("$MLGIT" run list --exp churn --order-by "metrics.val_acc DESC" --max 1 --json | sed -n 's/.*"run_id": "\([0-9a-f]*\)".*/\1/p' | head -1)
step "The best run"
echo "\$ mlgit run show $BEST"
"$MLGIT" run show "$BEST"
echo "\$ mlgit run metrics $BEST val_acc | head -5"
"$MLGIT" run metrics "$BEST" val_acc | head -5 || true

step "Register the best run's model, promote it, and resolve it as CI would"
echo "\$ mlgit run artifact ls $BEST"
"$MLGIT" run artifact ls "$BEST"
echo "\$ mlgit model register churn --run $BEST --path model"
"$MLGIT" model register churn --run "$BEST" --path model
echo "\$ mlgit model promote churn 1 Production --reason 'best val_acc'"
"$MLGIT" model promote churn 1 Production --reason "best val_acc"
echo "\$ mlgit model alias set churn champion 1"
"$MLGIT" model alias set churn champion 1
echo "\$ git tag -l 'churn*'"
git tag -l 'churn*'
echo "\$ mlgit model resolve churn@production"
"$MLGIT" model resolve churn@production
echo "\$ mlgit model get churn@champion -o deploy && ls deploy"
"$MLGIT" model get churn@champion -o deploy >/dev/null && ls deploy
echo "\$ mlgit lineage churn@production"
"$MLGIT" lineage churn@production

step "An MLflow client logs into the same repository (embedded MLflow REST server)"
echo "\$ mlgit run exec --mlflow --exp churn --name via-mlflow -- mlflowclient"
"$MLGIT" run exec --mlflow --exp churn --name via-mlflow -- mlflowclient
echo "\$ mlgit run list --exp churn --filter \"params.alpha = '0.5'\""
"$MLGIT" run list --exp churn --filter "params.alpha = '0.5'"

step "Everything is plain Git"
echo "\$ git log --oneline mlgit"
git log --oneline mlgit
echo "\$ git show mlgit:runs/${BEST:0:2}/$BEST/run.yaml | head -20"
git show "mlgit:runs/${BEST:0:2}/$BEST/run.yaml" | head -20 || true
echo "\$ git status --short   # the user's checkout is untouched (only the demo's own outputs are new)"
git status --short
echo
echo "Demo finished."
