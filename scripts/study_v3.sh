#!/usr/bin/env bash
# The -v3 reference and its precision check, in the order their results are needed, each step
# resumable: rerun this script and every finished training and evaluation is skipped
# (`act-bench run` finds them in the runs folder), an interrupted one resumes.
#
#   bash scripts/study_v3.sh [STEP...]     # default: precision reference human
#
#   precision  -v3 transfer cube, training seeds 0-4, trained with the cpu profile's default
#              precision (amp "auto": bf16 where the CPU computes bf16 natively) and again in fp32
#              (`--set train.amp=none`), every model evaluated on the same 50 starts; then
#              `act-bench compare` over the seeds says whether precision moves the result
#              (precision-fp32-v3/compare-METHOD.txt).
#   reference  Table I's scripted column: act, act-no-te and bc on both -v3 tasks, seeds SEEDS,
#              beside the bounds (scripted: the expert, still: the arms held) on the same starts.
#   human      Table I's human-data column (the human-like demonstrations), seeds HUMAN_SEEDS.
#
# ROOT (default ./study-v3) holds the demos and the trained runs (large; never committed); OUT
# (default ./results) the tables, plots, reports and videos (small; committed). Train one
# reference on one CPU kind: `act-bench run` records each training's machine (trained_on), and
# seeds trained on another kind belong in a separate, labelled results folder.
set -euo pipefail
ROOT=${ROOT:-study-v3}
OUT=${OUT:-results}
SEEDS=${SEEDS:-0,1,2,3,4,5,6,7,8,9}
HUMAN_SEEDS=${HUMAN_SEEDS:-0,1,2,3,4}
PRECISION_SEEDS=${PRECISION_SEEDS:-0,1,2,3,4}
JOBS=${JOBS:-2}
METHODS=act,act-no-te,bc,scripted,still  # the bounds train nothing: they are scored on the same starts
# One torch thread per training: a training's numbers depend on its thread count, a 1-thread job
# runs at the same speed beside another (two at once on 2 cores, each pinned to its own), and
# it slows gracefully when the machine is shared, where 2-thread jobs stall (OpenMP threads
# waiting for descheduled partners).
common=(--profile cpu --episodes 50 --demos 50 --jobs "$JOBS" --set train.num_threads=1 --demos-root "$ROOT/demos")

step() { echo "== study-v3: $1 ($(date '+%F %T'))" >&2; }

precision() {
  step precision
  # the default precision's half is the reference's own transfer-cube trainings
  act-bench run --methods act,act-no-te --tasks transfer_cube_v3 --seeds "$PRECISION_SEEDS" "${common[@]}" \
    --runs-root "$ROOT/runs" --out "$OUT/reference-v3"
  act-bench run --methods act,act-no-te --tasks transfer_cube_v3 --seeds "$PRECISION_SEEDS" "${common[@]}" \
    --set train.amp=none --runs-root "$ROOT/runs-fp32" --out "$OUT/precision-fp32-v3"
  mkdir -p "$OUT/precision-fp32-v3"
  for m in act act-no-te; do
    # kept beside the fp32 results (written whole, then renamed)
    act-bench compare "$OUT/reference-v3:$m" "$OUT/precision-fp32-v3:$m" > "$OUT/precision-fp32-v3/.compare-$m.tmp" \
      && mv "$OUT/precision-fp32-v3/.compare-$m.tmp" "$OUT/precision-fp32-v3/compare-$m.txt" || true
  done
}
reference() {
  step reference
  act-bench run --methods "$METHODS" --tasks transfer_cube_v3,insertion_v3 --seeds "$SEEDS" \
    "${common[@]}" --runs-root "$ROOT/runs" --out "$OUT/reference-v3"
}
human() {
  step human
  act-bench run --methods "$METHODS" --tasks transfer_cube_v3,insertion_v3 --seeds "$HUMAN_SEEDS" \
    --demo-style human "${common[@]}" --runs-root "$ROOT/runs" --out "$OUT/reference-v3-human"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(precision reference human)
for s in "${steps[@]}"; do
  case $s in
    precision|reference|human) "$s" ;;
    *) echo "study_v3.sh: unknown step '$s' (precision, reference, human)" >&2; exit 2 ;;
  esac
done
step done
