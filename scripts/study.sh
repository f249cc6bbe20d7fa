#!/usr/bin/env bash
# The paper's simulated study, in the order its results are worth having, each step resumable:
# rerun this script and every finished training and evaluation is skipped (`act-bench run` /
# `sweep` find them in the runs folder), an interrupted one resumes. The run steps also keep the
# seeds already evaluated in OUT when their runs are not here (--keep-evaluated), so the study
# goes on from the committed results on a machine that has none of its runs.
#
#   bash scripts/study.sh [STEP...]     # default: every step of VERSION in order
#
#   precision  (-v3) transfer cube, PRECISION_SEEDS, trained at the cpu profile's default
#              precision (amp "auto": bf16 where the CPU computes it natively) and again in fp32
#              (`--set train.amp=none`), every model on the same 50 starts; `act-bench compare`
#              over the seeds (precision-fp32-v3/compare-METHOD.txt) says whether precision
#              moves the result. The default half is the reference's own transfer-cube trainings.
#   reference  Table I's scripted column: act, act-no-te and bc beside the bounds (scripted: the
#              expert; still: the arms held) on the same starts, seeds SEEDS.
#   human      Table I's human-data column (human-like demonstrations), seeds HUMAN_SEEDS.
#   cvae       act-no-cvae on both data styles; execution: ensembling weight and open loop on
#   ...        the reference's models (no training); chunk: chunk size 1-100 with and without
#              ensembling; decoder: 1 against 7 decoder layers. Seeds ABLATION_SEEDS.
#   diffusion  (-v3) Diffusion Policy on the reference's demonstrations and evaluation starts,
#              seeds DIFFUSION_SEEDS, each training's best checkpoint (diffusion-v3) and its last
#              (diffusion-v3-last); `act-bench compare` against the reference's act and bc and
#              between the two checkpoints (diffusion-v3/compare-act.txt, compare-bc.txt,
#              compare-last.txt). Needs the diffusion extra.
#
# VERSION (default v3) picks the tasks (TASKS, default both of that version) and the folder
# names. v3: the cpu profile as it is (chunk 100), one torch thread per training, JOBS=2 at once
# (a training's numbers depend on its thread count; 1-thread jobs do not stall beside other
# work). v2: the committed -v2 study's settings (chunk 50, the machine's threads, JOBS=1) and
# folder names, so a rerun finds and extends it. ROOT (default ./study) holds the demos and the
# trained runs (large; never committed); OUT (default ./results) the tables, plots, reports and
# videos (small; committed). Train one study on one CPU kind: runs record their machine
# (trained_on), and seeds trained on another kind belong in a separate, labelled folder.
# CPU_FLAGS (optional, comma-separated): the flags hashes (`cpu_flags` in a run's config.json)
# of the machines this study trains on; on any other CPU the script stops before anything runs.
# METHODS narrows the reference and human steps, e.g. to give one cell more seeds:
#   TASKS=insertion_v3 METHODS=act,act-no-te SEEDS=10,11,12,13,14 bash scripts/study.sh reference
set -euo pipefail
VERSION=${VERSION:-v3}
ROOT=${ROOT:-study}
OUT=${OUT:-results}
METHODS=${METHODS:-act,act-no-te,bc,scripted,still}  # reference and human; the bounds train nothing
case $VERSION in
  v3) SEEDS=${SEEDS:-0,1,2,3,4,5,6,7,8,9}; HUMAN_SEEDS=${HUMAN_SEEDS:-0,1,2,3,4}
      ABLATION_SEEDS=${ABLATION_SEEDS:-0,1,2}; PRECISION_SEEDS=${PRECISION_SEEDS:-0,1,2,3,4}; JOBS=${JOBS:-2}
      DIFFUSION_SEEDS=${DIFFUSION_SEEDS:-0,1,2,3,4}
      settings=(--set train.num_threads=1); pin=(); suffix=-v3
      default_steps=(precision reference human cvae execution chunk decoder diffusion) ;;
  v2) SEEDS=${SEEDS:-0,1,2}; HUMAN_SEEDS=${HUMAN_SEEDS:-$SEEDS}; ABLATION_SEEDS=${ABLATION_SEEDS:-$SEEDS}
      JOBS=${JOBS:-1}; settings=(); pin=(--set model.chunk_size=50); suffix=""
      default_steps=(reference human cvae execution chunk decoder) ;;
  *) echo "study.sh: unknown VERSION '$VERSION' (v2, v3)" >&2; exit 2 ;;
esac
TASKS=${TASKS:-transfer_cube_$VERSION,insertion_$VERSION}
common=(--profile cpu --episodes 50 --demos 50 --jobs "$JOBS" "${settings[@]}" --link-media
        --runs-root "$ROOT/runs" --demos-root "$ROOT/demos")
pinned=("${common[@]}" "${pin[@]}")  # every step but the chunk sweep (which sets the chunk itself)
# `act-bench run` steps keep a seed evaluated in OUT whose run folder is gone (the results were
# committed, the runs stayed on the machine that trained them) instead of training it again
kept=("${pinned[@]}" --keep-evaluated)

step() { echo "== study ($VERSION): $1 ($(date '+%F %T'))" >&2; }

check_cpu() {  # the hash act_bench.runtime.machine.cpu() records: sha256 of the sorted flags, 16 hex
  [ -n "${CPU_FLAGS:-}" ] || return 0
  local here
  here=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2 | tr ' ' '\n' | grep -v '^$' | LC_ALL=C sort | paste -sd' ' \
         | tr -d '\n' | sha256sum | cut -c1-16)
  case ",$CPU_FLAGS," in
    *",$here,"*) ;;
    *) echo "study.sh: this CPU's flags hash $here is not in CPU_FLAGS ($CPU_FLAGS): train the study on its" \
            "own CPU kind, or start a separate, labelled one (another ROOT and OUT)" >&2; exit 2 ;;
  esac
}

precision() {
  [ "$VERSION" = v3 ] || { echo "study.sh: the precision step is -v3's" >&2; exit 2; }
  step precision
  local fp32="$OUT/precision-fp32-v3"
  act-bench run --methods act,act-no-te --tasks transfer_cube_v3 --seeds "$PRECISION_SEEDS" "${kept[@]}" \
    --out "$OUT/reference-v3"
  act-bench run --methods act,act-no-te --tasks transfer_cube_v3 --seeds "$PRECISION_SEEDS" "${kept[@]}" \
    --set train.amp=none --runs-root "$ROOT/runs-fp32" --out "$fp32"
  mkdir -p "$fp32"
  for m in act act-no-te; do  # written whole, then renamed
    act-bench compare "$OUT/reference-v3:$m" "$fp32:$m" > "$fp32/.compare-$m.tmp" \
      && mv "$fp32/.compare-$m.tmp" "$fp32/compare-$m.txt" || true
  done
}
reference() {
  step reference
  act-bench run --methods "$METHODS" --tasks "$TASKS" --seeds "$SEEDS" "${kept[@]}" --out "$OUT/reference-$VERSION"
}
human() {  # run folders cpu-human, demo folders *_human
  step human
  act-bench run --methods "$METHODS" --tasks "$TASKS" --seeds "$HUMAN_SEEDS" --demo-style human "${kept[@]}" \
    --out "$OUT/reference-$VERSION-human"
}
cvae() {
  step cvae
  act-bench run --methods act-no-cvae --tasks "$TASKS" --seeds "$ABLATION_SEEDS" "${kept[@]}" \
    --out "$OUT/ablation-cvae$suffix"
  act-bench run --methods act-no-cvae --tasks "$TASKS" --seeds "$ABLATION_SEEDS" --demo-style human "${kept[@]}" \
    --out "$OUT/ablation-cvae$suffix-human"
}
execution() {
  step execution
  act-bench sweep --param eval.temporal_ensemble_m=0.001,0.01,0.1,1 --methods act --tasks "$TASKS" \
    --seeds "$ABLATION_SEEDS" "${pinned[@]}" --out "$OUT/sweep-te-m$suffix"
  act-bench sweep --param eval.n_action_steps=1,10,0 --methods act-no-te --tasks "$TASKS" \
    --seeds "$ABLATION_SEEDS" "${pinned[@]}" --out "$OUT/sweep-open-loop$suffix"
}
chunk() {
  step chunk
  act-bench sweep --param model.chunk_size=1,10,50,100 --methods act,act-no-te --tasks "$TASKS" \
    --seeds "$ABLATION_SEEDS" "${common[@]}" --out "$OUT/sweep-chunk$suffix"
  act-bench sweep --param model.chunk_size=1,10,50,100 --methods act,act-no-te --tasks "$TASKS" \
    --seeds "$ABLATION_SEEDS" --demo-style human "${common[@]}" --out "$OUT/sweep-chunk$suffix-human"
}
decoder() {  # transfer cube only
  step decoder
  act-bench sweep --param model.dec_layers=1,7 --methods act,act-no-te --tasks "transfer_cube_$VERSION" \
    --seeds "$ABLATION_SEEDS" "${pinned[@]}" --out "$OUT/sweep-decoder$suffix"
}
diffusion() {
  [ "$VERSION" = v3 ] || { echo "study.sh: the diffusion step is -v3's" >&2; exit 2; }
  step diffusion
  local out="$OUT/diffusion-v3"
  act-bench run --methods diffusion --tasks "$TASKS" --seeds "$DIFFUSION_SEEDS" "${kept[@]}" --out "$out"
  # the same trainings' final weights too: a diffusion model's validation loss is a weak guide
  act-bench run --methods diffusion --tasks "$TASKS" --seeds "$DIFFUSION_SEEDS" "${kept[@]}" --checkpoint last \
    --out "$out-last"
  mkdir -p "$out"
  local a name
  for pair in "reference-v3:act act" "reference-v3:bc bc" "diffusion-v3-last:diffusion last"; do
    read -r a name <<<"$pair"  # what diffusion is compared against, and its file's name
    act-bench compare "$OUT/$a" "$out:diffusion" > "$out/.compare-$name.tmp" \
      && mv "$out/.compare-$name.tmp" "$out/compare-$name.txt" || true  # written whole, then renamed
  done
}

check_cpu
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=("${default_steps[@]}")
for s in "${steps[@]}"; do
  case $s in
    precision|reference|human|cvae|execution|chunk|decoder|diffusion) "$s" ;;
    *) echo "study.sh: unknown step '$s' (precision, reference, human, cvae, execution, chunk, decoder, diffusion)" >&2
       exit 2 ;;
  esac
done
step done
