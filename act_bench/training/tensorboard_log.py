"""Optional TensorBoard events beside metrics.csv (`act-bench train --tensorboard DIR`): the same
scalars under the same names (train_loss, its terms, val_*, lr, ...), at the same steps.

Off by default; it needs the tensorboard package (pip install tensorboard, or in a clone
pip install -e '.[tensorboard]'). A resumed training purges the events after the step it
resumes from, so TensorBoard shows each step once, as metrics.csv does.
"""
from __future__ import annotations

import math
from pathlib import Path

from act_bench.errors import ActBenchError

INSTALL = "pip install tensorboard (in a clone: pip install -e '.[tensorboard]')"


class TensorBoardScalars:
    """A train callback (TrainOptions.callback) writing each logged metrics row as scalars."""

    def __init__(self, log_dir: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ActBenchError(f"--tensorboard needs the tensorboard package: {INSTALL}") from None
        self.log_dir = Path(log_dir)
        self._make = SummaryWriter
        self._writer = None

    def __call__(self, step: int, row: dict | None) -> None:
        if self._writer is None:  # the first step of this invocation: later events of an earlier one go
            self._writer = self._make(str(self.log_dir), purge_step=step, flush_secs=30)
        if not row:
            return
        for name, value in row.items():
            if name != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                self._writer.add_scalar(name, value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
