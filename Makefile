# One-command set-up on a fresh machine (Python 3.10+; see README for the Debian GL packages).
#   make test   create .venv, install act-bench with test, lerobot, ray and docs extras, run the test
#               suite (the fault suite, pytest -m faults, the same-cell test with a local Ray and
#               the documentation's strict build included)
#   make run    create .venv, install act-bench, run the benchmark on the default (cpu) profile
#   make docs   build the documentation site into site/ (mkdocs build --strict)
#   make ci-regression   the CI regression job (train to a success rate, compare with results/ci)
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

$(BIN)/act-bench: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[test,lerobot,ray,docs,diffusion]"
	touch $@

.PHONY: install test run docs ci-regression verify-lerobot
install: $(BIN)/act-bench

test: install
	MUJOCO_GL=egl $(BIN)/python -m pytest -q

run: install
	MUJOCO_GL=egl $(BIN)/act-bench run

docs: install
	$(BIN)/mkdocs build --strict --site-dir site

ci-regression: install
	MUJOCO_GL=egl $(BIN)/python -m act_bench.grid.regression --out ci-run

# Check export-lerobot against LeRobot itself (builds a Python 3.12 venv with lerobot; see docs/lerobot.md)
verify-lerobot: install
	bash scripts/verify_lerobot.sh
