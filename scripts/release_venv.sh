#!/usr/bin/env bash
# Build (once) the side venv in which the original ACT release's expert runs on the MuJoCo its
# README pins (2.3.7, Python 3.11, numpy 1.26), for scripts/release_measure.py:
#   scripts/release_venv.sh [VENV]      (default $RELEASE_VENV or /tmp/act-bench-release-venv)
# Needs PyPI; does nothing when the venv already has mujoco 2.3.7. Prints the venv's python.
set -euo pipefail
. "$(dirname "$0")/pick_python.sh"
VENV=${1:-${RELEASE_VENV:-/tmp/act-bench-release-venv}}
if ! "$VENV/bin/python" -c "import mujoco, sys; sys.exit(mujoco.__version__ != '2.3.7')" 2>/dev/null; then
  PY=$(pick_python 3.11)
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "mujoco==2.3.7" "numpy==1.26.4"
fi
"$VENV/bin/python" -c "import mujoco, numpy, sys; print('mujoco', mujoco.__version__, 'numpy', numpy.__version__, 'python', sys.version.split()[0], file=sys.stderr)"
echo "$VENV/bin/python"
