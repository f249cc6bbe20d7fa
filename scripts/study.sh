#!/usr/bin/env bash
# The paper's simulated study on the -v2 tasks, in the order its results are worth having, each
# step resumable: rerun this script and every finished training and evaluation is skipped
# (`act-bench run` / `sweep` find them in the runs folder), an interrupted one resumes.
#
#   bash scripts/study.sh [STEP...]     # default: every step in order; e.g. `reference human`
#
# ROOT (default ./study) holds the demos and the trained runs (large; never committed); OUT
# (default ./results) the tables, plots, reports and videos (small; committed). SEEDS (default
# 0,1,2) are the training seeds; TASKS (default both -v2 tasks) the tasks, so a short sitting can
# finish one task's cells before starting the other's; JOBS (default 1) the parallel jobs (2-core
# machine: 1). Every step uses the cpu profile, 50 demos and 50 evaluation episodes; about 23 h
# of a 2-core CPU in all (README: Performance), about 2 h on one GPU with `act-bench remote train`.
set -euo pipefail
ROOT=${ROOT:-study}
OUT=${OUT:-results}
SEEDS=${SEEDS:-0,1,2}
JOBS=${JOBS:-1}
TASKS=${TASKS:-transfer_cube_v2,insertion_v2}
common=(--profile cpu --episodes 50 --demos 50 --seeds "$SEEDS" --jobs "$JOBS"
        --runs-root "$ROOT/runs" --demos-root "$ROOT/demos")

step() { echo "== study: $1 ($(date '+%F %T'))" >&2; }

reference() {  # Table I's scripted column
  step reference
  act-bench run --methods act,act-no-te,bc --tasks $TASKS "${common[@]}" --out "$OUT/reference-v2"
}
human() {  # Table I's human-data column (run folders cpu-human, demo folders *_human)
  step human
  act-bench run --methods act,act-no-te,bc --tasks $TASKS --demo-style human "${common[@]}" \
    --out "$OUT/reference-v2-human"
}
cvae() {  # the CVAE ablation, scripted and human-like data
  step cvae
  act-bench run --methods act-no-cvae --tasks $TASKS "${common[@]}" --out "$OUT/ablation-cvae"
  act-bench run --methods act-no-cvae --tasks $TASKS --demo-style human "${common[@]}" \
    --out "$OUT/ablation-cvae-human"
}
execution() {  # ensembling weight and open loop on the reference's models (no training)
  step execution
  act-bench sweep --param eval.temporal_ensemble_m=0.001,0.01,0.1,1 --methods act --tasks $TASKS \
    "${common[@]}" --out "$OUT/sweep-te-m"
  act-bench sweep --param eval.n_action_steps=1,10,0 --methods act-no-te --tasks $TASKS \
    "${common[@]}" --out "$OUT/sweep-open-loop"
}
chunk() {  # chunk size with and without ensembling, scripted and human-like data
  step chunk
  act-bench sweep --param model.chunk_size=1,10,50,100 --methods act,act-no-te --tasks $TASKS \
    "${common[@]}" --out "$OUT/sweep-chunk"
  act-bench sweep --param model.chunk_size=1,10,50,100 --methods act,act-no-te --tasks $TASKS \
    --demo-style human "${common[@]}" --out "$OUT/sweep-chunk-human"
}
decoder() {  # the release's 1 decoder layer against 7 (transfer cube)
  step decoder
  act-bench sweep --param model.dec_layers=1,7 --methods act,act-no-te --tasks transfer_cube_v2 \
    "${common[@]}" --out "$OUT/sweep-decoder"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(reference human cvae execution chunk decoder)
for s in "${steps[@]}"; do
  case $s in
    reference|human|cvae|execution|chunk|decoder) "$s" ;;
    *) echo "study.sh: unknown step '$s' (reference, human, cvae, execution, chunk, decoder)" >&2; exit 2 ;;
  esac
done
step done
