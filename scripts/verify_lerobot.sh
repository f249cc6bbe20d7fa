#!/usr/bin/env bash
# Check act-bench's LeRobot interop against LeRobot itself (`make verify-lerobot`):
#   1. a separate Python 3.12 venv with lerobot 0.6.1 (CPU; built once, reused)
#   2. demos of each task -> act-bench export-lerobot
#   3. LeRobot's LeRobotDataset loads each export; states, actions and frames vs our HDF5
#   4. a short LeRobot ACT training (lerobot-train, tiny settings, CPU) on the transfer-cube export;
#      act-bench training on the same export imported back (import-lerobot), a few steps
#   5. that checkpoint evaluated in act-bench's env: act-bench eval --policy act_bench_lerobot:load
# Settings (environment): WORK (default /tmp/act-bench-verify-lerobot), ACT_PY (a python with
# act-bench and its lerobot extra; default .venv/bin/python), PY312 (python >= 3.12 for lerobot),
# LEROBOT_VENV, EPISODES (2), SIZE (48x64), STEPS (300), EVAL_EPISODES (3). Log: $WORK/verify.log.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${WORK:-/tmp/act-bench-verify-lerobot}
ACT_PY=${ACT_PY:-$REPO/.venv/bin/python}
PY312=${PY312:-$(command -v python3.12 || echo "$HOME/.pyenv/versions/3.12.1/bin/python3")}
VENV=${LEROBOT_VENV:-$WORK/lerobot-venv}
EPISODES=${EPISODES:-2}
SIZE=${SIZE:-48x64}
STEPS=${STEPS:-300}
EVAL_EPISODES=${EVAL_EPISODES:-3}
export MUJOCO_GL=${MUJOCO_GL:-egl} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=1 WANDB_MODE=disabled
mkdir -p "$WORK"
exec > >(tee "$WORK/verify.log") 2>&1
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

step "1. LeRobot venv at $VENV"
PY312="$PY312" scripts/lerobot_venv.sh "$VENV"

for task in transfer_cube insertion; do
  step "2. $task: $EPISODES demos at $SIZE -> export-lerobot"
  "$ACT_PY" -m act_bench.cli generate-demos --task "$task" --episodes "$EPISODES" --image-size "$SIZE" \
    --out "$WORK/demos_$task" 2>&1 | tail -1
  "$ACT_PY" -m act_bench.cli export-lerobot "$WORK/demos_$task" "$WORK/lerobot_$task" --force --no-progress
  step "3. $task: LeRobot's LeRobotDataset vs our HDF5"
  "$VENV/bin/python" scripts/verify_lerobot.py "$WORK/lerobot_$task" "$WORK/demos_$task" 2>&1 | grep -v -i torchcodec
  "$ACT_PY" -m act_bench.cli import-lerobot "$WORK/lerobot_$task" "$WORK/imported_$task" --force --no-progress
done

step "4. LeRobot ACT, $STEPS steps on the transfer_cube export (CPU, tiny settings)"
rm -rf "$WORK/train_act"
"$VENV/bin/lerobot-train" --dataset.repo_id=act_bench/transfer_cube --dataset.root="$WORK/lerobot_transfer_cube" \
  --dataset.video_backend=pyav --dataset.use_imagenet_stats=false \
  --policy.type=act --policy.device=cpu --policy.push_to_hub=false --policy.pretrained_backbone_weights=null \
  --policy.dim_model=64 --policy.n_heads=4 --policy.dim_feedforward=256 --policy.n_encoder_layers=2 \
  --policy.n_decoder_layers=1 --policy.n_vae_encoder_layers=2 --policy.chunk_size=20 --policy.n_action_steps=20 \
  --policy.optimizer_lr=1e-4 --policy.optimizer_lr_backbone=1e-4 \
  --batch_size=8 --steps="$STEPS" --log_freq=25 --save_freq="$STEPS" --num_workers=0 --seed=0 \
  --wandb.enable=false --output_dir="$WORK/train_act" 2>&1 | tr '\r' '\n' \
  | grep -v -E "torchcodec|libavutil|Could not load this library|those versions" \
  | grep -o -E "INFO.*(step:|Output dir|effective batch).*|.*(Error|ERROR).*" || true
CKPT="$WORK/train_act/checkpoints/last/pretrained_model"
[ -f "$CKPT/model.safetensors" ] || { echo "no checkpoint at $CKPT"; exit 1; }

step "4b. act-bench trains on the transfer_cube export, imported back (a few steps: it runs)"
"$ACT_PY" -m act_bench.cli train --task transfer_cube --policy act --profile ci --data "$WORK/imported_transfer_cube" \
  --out "$WORK/act_on_imported" --fresh --set train.steps=20 --set "data.image_size=[${SIZE%x*},${SIZE#*x}]" --no-progress

step "5. act-bench eval --policy act_bench_lerobot:load (the LeRobot checkpoint in act-bench's env)"
PYTHONPATH="$REPO:$REPO/examples/lerobot_policy" "$VENV/bin/python" -m act_bench.cli eval \
  --policy act_bench_lerobot:load --policy-arg checkpoint="$CKPT" --task transfer_cube \
  --episodes "$EVAL_EPISODES" --videos 1 --out "$WORK/eval_lerobot_act" --fresh --no-progress 2>&1 | grep -v -i torchcodec
ls "$WORK/eval_lerobot_act" "$WORK/eval_lerobot_act/videos"
step "done: log in $WORK/verify.log"
