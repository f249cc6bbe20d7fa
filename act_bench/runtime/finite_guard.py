"""A training whose loss or weights stop being finite stops, instead of training on NaN to the end.

`FiniteGuard.observe` notes every step's loss on the device, with no host sync (the first
non-finite step and the last finite loss are kept as tensors); `check` syncs once, where the
training syncs anyway (a logged row) or must not go on (before a checkpoint is written, when
the weights are checked too: a non-finite gradient shows there first). So the checkpoints on
disk are always finite. A diverged run gets diverged.json instead of done.json: rerunning the
same command says so at once, and `--fresh` or another `--out` trains it again with other
settings; `eval` refuses the run folder (a checkpoint named explicitly is still evaluated).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from act_bench.errors import ActBenchError
from act_bench.storage import layout
from act_bench.storage.atomic_io import write_json

MARKER = layout.RUN_DIVERGED
_ADVICE = ("train again with other settings (e.g. a lower --set train.lr) with --fresh or into another --out")


class TrainingDiverged(ActBenchError):
    """The loss or the weights became NaN or infinite."""

    def __init__(self, message: str, record: dict):
        super().__init__(message)
        self.record = record


class FiniteGuard:
    def __init__(self, device: torch.device):
        self._bad = torch.zeros((), dtype=torch.int64, device=device)  # first non-finite step, 0: none
        self._last = torch.full((), math.nan, device=device)  # last finite loss
        self._last_step = torch.zeros((), dtype=torch.int64, device=device)

    def observe(self, step: int, loss: torch.Tensor) -> None:
        loss = loss.detach().float()
        ok = torch.isfinite(loss)
        step_t = torch.full_like(self._bad, step)
        self._last = torch.where(ok, loss, self._last)
        self._last_step = torch.where(ok, step_t, self._last_step)
        self._bad = torch.where(ok | (self._bad > 0), self._bad, step_t)

    def check(self, checkpoint_step: int, step: int, parameters=None) -> None:
        """Raise TrainingDiverged if a step's loss was not finite (or, given `parameters`, a
        weight is not); checkpoint_step: the last good checkpoint, kept on disk."""
        bad = int(self._bad)
        if not bad and parameters is not None:
            params = [p.detach() for p in parameters]
            if params and not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
                bad = step
        if not bad:
            return
        last = float(self._last)
        record = {"step": bad, "last_finite_loss": last if math.isfinite(last) else None,
                  "last_finite_step": int(self._last_step) or None, "checkpoint_step": checkpoint_step or None}
        raise TrainingDiverged(describe(record), record)


def describe(record: dict, folder: Path | None = None) -> str:
    last = record.get("last_finite_loss")
    last_txt = (f"last finite loss {last:.6g} at step {record.get('last_finite_step')}" if last is not None
                else "no finite loss before it")
    kept = (f"its last good checkpoint (step {record['checkpoint_step']}) is kept" if record.get("checkpoint_step")
            else "no checkpoint was written")
    where = f"{folder}: " if folder is not None else ""
    return (f"{where}training diverged: non-finite loss or weights at step {record['step']} ({last_txt}); "
            f"{kept}, the run is not marked done; {_ADVICE}")


def mark(run_dir: Path, exc: TrainingDiverged) -> None:
    write_json(Path(run_dir) / MARKER, exc.record)


def refuse_diverged(run_dir: Path) -> None:
    """TrainingDiverged when run_dir holds a training that diverged."""
    record = layout.read_json_record(Path(run_dir) / MARKER)
    if record is not None:
        raise TrainingDiverged(describe(record, run_dir), record)
