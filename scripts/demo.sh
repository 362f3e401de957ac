#!/usr/bin/env bash
# make demo: a small real training tracked by mlgit in a temporary repository,
# then shared with a second clone and promoted through review (proposal, diff,
# check, merge, tags sync, deploy-style resolve). No server and no network: a
# local bare repository and a blob folder stand in for the team's remote.
set -euo pipefail
MLGIT=${MLGIT:-mlgit}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlgit-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export MLGIT GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-mlgit demo}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-demo@example.com}"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# show CMD...: print CMD as the user would type it, prefixed by the clone it runs in.
show() {
  local a line=
  for a in "$@"; do
    case $a in *[!A-Za-z0-9_./=@:,+-]*|'') line+=" '${a//\'/\'\\\'\'}'" ;; *) line+=" $a" ;; esac
  done
  printf '%s$%s\n' "${WHO:-}" "$line"
}
mg() { show mlgit "$@"; "$MLGIT" "$@"; }   # an mlgit command, printed and run
sh_() { show "$@"; "$@"; }                  # any other command, printed and run
# as NAME DIR: continue in clone DIR as user NAME (the Git identity of commits and tags).
as() {
  WHO="$1 " && cd "$2"
  export GIT_AUTHOR_NAME="$1" GIT_AUTHOR_EMAIL="$1@example.com" GIT_COMMITTER_NAME="$1" GIT_COMMITTER_EMAIL="$1@example.com"
}

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

step "A script that prints its metrics: mlgit reads them from its output"
cat > printer.sh <<'SH'
for i in 1 2 3 4 5; do
  echo "epoch $i/5"
  echo "step=$i loss=0.$((9 - i)) acc=0.$((50 + 9 * i))"
done
SH
echo "\$ mlgit run exec --exp churn --name printed --metrics-from-output -- sh printer.sh"
"$MLGIT" run exec --exp churn --name printed --metrics-from-output -- sh printer.sh
PRINTED=$("$MLGIT" run list --exp churn --filter "run_name = 'printed'" --json | sed -n 's/.*"run_id": "\([0-9a-f]*\)".*/\1/p' | head -1)
echo "\$ mlgit run metrics $PRINTED loss"
"$MLGIT" run metrics "$PRINTED" loss

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

step "Share through a Git remote: blobs to the blob store, branch and tags to the remote"
git init -q --bare --initial-branch=main "$WORK/team.git"
as ada "$WORK/project"
mg config set blobs.remote "$WORK/blobs"   # a folder here; s3://bucket/prefix for a team
sh_ git remote add origin "$WORK/team.git"
sh_ git push -q origin main
mg push

step "A second clone: mlgit pull creates its tracking branch"
git clone -q "$WORK/team.git" "$WORK/bob"
as bob "$WORK/bob"
mg pull
mg model resolve churn@production

step "Both log a run, both push (the second push re-applies its commits on the first), both pull"
as ada "$WORK/project"
mg run exec --exp churn --name ada-l2-0.01 --param lr=0.3 --param l2=0.01 --params params.yaml --metrics metrics.json -- \
  logreg --lr 0.3 --l2 0.01 --epochs 25 >/dev/null
as bob "$WORK/bob"
rm -rf out
mg run exec --exp churn --name bob-lr-0.2 --param lr=0.2 --param l2=0.001 --params params.yaml --metrics metrics.json --artifacts out -- \
  logreg --lr 0.2 --l2 0.001 --epochs 25 --out out >/dev/null
BOB_RUN=$("$MLGIT" run list --exp churn --filter "attributes.run_name = 'bob-lr-0.2'" --json | sed -n 's/.*"run_id": "\([0-9a-f]*\)".*/\1/p' | head -1)
as ada "$WORK/project"
mg push
as bob "$WORK/bob"
mg push
mg run list --exp churn --order-by "metrics.val_acc DESC"
as ada "$WORK/project"
mg pull

step "A promotion policy on the tracking branch: Production through review, from Staging, val_acc >= 0.75"
mg config set promotion.production.from Staging
mg config set promotion.production.require "metrics.val_acc >= 0.75"
mg config set promotion.production.review true
sh_ git show mlgit:mlgit.yaml
mg push

step "Bob registers his model and proposes it for Production: a branch pushed for review"
as bob "$WORK/bob"
mg pull
mg model register churn --run "$BOB_RUN" --path model
mg model promote churn 2 staging
mg push
mg model promote churn 2 production --propose --archive-existing --reason "val_acc 0.805 > 0.8025"

step "The review: what the pull request changes, and the candidate against production"
mg diff origin/mlgit...mlgit-propose/churn-v2-production --format markdown
mg diff churn@production churn@v2 --format markdown

step "CI on the pull request (docs/ci): mlgit check"
mg check --base origin/mlgit --head mlgit-propose/churn-v2-production

step "The merge, as the merge button makes it (a third clone, git merge --no-ff, git push)"
git clone -q "$WORK/team.git" "$WORK/reviewer"
as carol "$WORK/reviewer"
sh_ git checkout -q -b mlgit origin/mlgit
sh_ git merge -q --no-ff --no-edit origin/mlgit-propose/churn-v2-production
sh_ git push -q origin mlgit

step "CI after the merge (docs/ci): a fresh checkout, mlgit tags sync --push"
git clone -q "$WORK/team.git" "$WORK/ci"
as ci "$WORK/ci"
sh_ git checkout -q --detach origin/mlgit
mg tags sync --push
sh_ git ls-remote --tags "$WORK/team.git" 'churn#*'
PROD_TAG=$(git ls-remote --tags "$WORK/team.git" 'churn#production#*' | sed -n 's|.*refs/tags/\([^^]*\)$|\1|p' | sort -t'#' -k3 -n | tail -1)

step "The deploy job, triggered by $PROD_TAG: which version, from the remote's tags alone, then its files"
mg model resolve churn@production --remote "$WORK/team.git"
mg model check-ref "refs/tags/$PROD_TAG" --env
mg model get churn@production -o "$WORK/deploy" >/dev/null
sh_ ls "$WORK/deploy"

step "Back in the first clone: pull, and the registry says v2 is in Production"
as ada "$WORK/project"
mg pull
mg model resolve churn@production
mg log -n 8
unset WHO

step "Everything is plain Git"
echo "\$ git log --oneline mlgit"
git log --oneline mlgit
echo "\$ git show mlgit:runs/${BEST:0:2}/$BEST/run.yaml | head -20"
git show "mlgit:runs/${BEST:0:2}/$BEST/run.yaml" | head -20 || true
echo "\$ git status --short   # the user's checkout is untouched (only the demo's own outputs are new)"
git status --short

step "The web UI: mlgit ui serves these pages (and the MLflow API) on loopback"
if command -v curl >/dev/null 2>&1; then
  "$MLGIT" ui --port 0 --no-open > "$WORK/ui.out" 2>"$WORK/ui.err" &
  UI_PID=$!
  for _ in $(seq 100); do grep -q http "$WORK/ui.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(sed -n 's/^mlgit ui: //p' "$WORK/ui.out")
  echo "\$ mlgit ui      # $URL (opens the browser; --no-open here)"
  page() { curl -fsSL "$URL$1" | sed -n 's:.*<title>\(.*\)</title>.*:\1:p'; }
  echo "  $URL                              -> $(page '')"
  echo "  ${URL}runs/${BEST:0:8}…                 -> $(page "runs/$BEST")"
  echo "  ${URL}models/churn                   -> $(page models/churn)"
  kill -TERM "$UI_PID" && wait "$UI_PID" || true
else
  echo "(curl not found: skipped; run mlgit ui in a repository to browse it)"
fi

step "Bringing an MLflow history along: mlgit import mlflow"
# A file store written by MLflow 2.17.2 (testdata/mlflow/README.md says what
# it holds), imported into a fresh tracking repository with MLflow's ids.
cd "$WORK" && mkdir from-mlflow && cd from-mlflow && git init -q -b main
"$MLGIT" init >/dev/null
cp -r "$ROOT/testdata/mlflow/mlflow-2.17.2-mlruns" "$WORK/mlruns"
mg import mlflow --from "$WORK/mlruns" --verify
mg run list --exp churn --columns params.lr,metrics.acc
mg import mlflow --from "$WORK/mlruns"

step "A deleted model comes back"
cd "$WORK/project"
mg model delete churn --yes
mg model restore churn
mg model resolve churn@production

echo
echo "Demo finished."
