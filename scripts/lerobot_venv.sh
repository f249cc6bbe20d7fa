#!/usr/bin/env bash
# Build (once) the separate Python 3.12 venv with LeRobot 0.6.1 that verify_lerobot.sh and
# benchmarks/vs_lerobot.py use: scripts/lerobot_venv.sh [VENV]
# (default $LEROBOT_VENV or /tmp/act-bench-verify-lerobot/lerobot-venv; PY312 picks the python,
# else the first python3.12 that runs).
# Needs PyPI; does nothing when the venv already has lerobot-train.
set -euo pipefail
. "$(dirname "$0")/pick_python.sh"
VENV=${1:-${LEROBOT_VENV:-/tmp/act-bench-verify-lerobot/lerobot-venv}}
if [ ! -x "$VENV/bin/lerobot-train" ]; then
  PY312=${PY312:-$(pick_python 3.12)}
  "$PY312" -m venv "$VENV"
  # lerobot 0.6.1 accepts torch >= 2.7, < 2.12; torchvision < 0.27. The rest is what act-bench's
  # env and evaluator need at run time (act-bench itself goes on PYTHONPATH: its torch pin differs).
  # PyPI's torch 2.11 wheel is the CUDA build (+cu130); it runs on the CPU as well.
  "$VENV/bin/pip" install --quiet "lerobot[dataset,training]==0.6.1" "torch==2.11.0" "torchvision==0.26.0" \
    h5py "mujoco==3.17.0" imageio imageio-ffmpeg matplotlib
fi
"$VENV/bin/python" -c "import lerobot, torch, sys; print('lerobot', lerobot.__version__, 'torch', torch.__version__, 'python', sys.version.split()[0])"
