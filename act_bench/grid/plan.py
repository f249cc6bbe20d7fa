"""Planning `act-bench run`: from the grid (tasks x methods x seeds) to the job records still
to do. A pure function of the grid, the profiles and what is already finished on disk (asked
through `Finished`, so tests pass their own).

Trained policies are shared: act and act-no-te evaluate one trained `act` policy. Bounds (methods
that need no training: policies.bounds) get no demos, run folder or training, only their
evaluations. Evaluation episodes of seed S use eval_seed(S, i): all methods of one seed, bounds
included, see the same layouts, and different seeds see different ones.

A `Variant` is one setting of the profile: `run` plans one (the profile with --set), `act-bench
sweep` one per point (sweep.py) and merges the plans. Job keys start with the variant's names
when it has them, so points that train alike share one training and one run folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from act_bench.errors import ActBenchError
from act_bench.grid.executors import check_executor
from act_bench.policies.config import EvalConfig
from act_bench.policies.registry import get_method
from act_bench.scripted.style import check_style
from act_bench.storage import layout
from act_bench.tasks.registry import get_task

DEFAULT_DEMOS = 50
CHECKPOINTS = ("best", "last")  # a training's checkpoints an evaluation may take


@dataclass(frozen=True)
class Grid:
    """What the user asked `act-bench run` for."""

    methods: tuple[str, ...]
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    profile: str = "cpu"
    episodes: int | None = None  # None: the first policy's profile eval.episodes
    demos: int = DEFAULT_DEMOS
    demo_seed: int = 0
    out: Path = Path("results/run")
    demos_root: Path = Path("demos")
    runs_root: Path = Path("runs")
    jobs: int = 1
    executor: str = "local"
    device: str = "auto"
    videos: int = 3
    videos_per_cell: int = 1
    link_media: bool = False  # report.html links its plots and videos (as committed) instead of embedding them
    overrides: tuple[str, ...] = ()
    demo_style: str = "scripted"  # scripted or human (scripted.style): its own demo and run folders
    checkpoint: str = "best"  # which checkpoint of each training is evaluated: best (validation loss) or last
    keep_evaluated: bool = False  # evaluations in out whose run folder is gone are kept, not retrained

    def check(self) -> None:
        check_style(self.demo_style)
        for m in self.methods:
            get_method(m)
        for t in self.tasks:
            get_task(t)
        if not self.methods or not self.tasks or not self.seeds:
            raise ActBenchError("--methods, --tasks and --seeds must each name at least one")
        check_executor(self.executor, self.jobs)
        if self.demos < 1:
            raise ActBenchError(f"--demos must be >= 1, got {self.demos}")
        if self.checkpoint not in CHECKPOINTS:
            raise ActBenchError(f"--checkpoint must be one of {', '.join(CHECKPOINTS)}, got {self.checkpoint!r}")

    def record(self, episodes: int) -> dict:
        """The settings every run.json / sweep.json entry records (a non-default checkpoint too)."""
        return {"methods": ",".join(self.methods), "tasks": ",".join(self.tasks),
                "seeds": ",".join(map(str, self.seeds)), "profile": self.profile, "overrides": " ".join(self.overrides),
                "episodes": episodes, "demos": self.demos, "jobs": self.jobs, "executor": self.executor,
                **({"checkpoint": self.checkpoint} if self.checkpoint != "best" else {})}

    @property
    def policies(self) -> list[str]:
        """The trained policies the methods need, in method order (none for a bound)."""
        return list(dict.fromkeys(get_method(m).policy for m in self.methods if get_method(m).trained))

    @property
    def bounds(self) -> list[str]:
        """The methods that need no training (policies.bounds)."""
        return [m for m in self.methods if not get_method(m).trained]


@dataclass(frozen=True)
class Variant:
    """One setting of the grid's profile. `train` overrides change the weights, so a variant
    with a train_name has run folders of its own; `execution` overrides (eval-only fields)
    change only how the trained policy is run, in the variant's own evaluation folders."""

    name: str = ""  # "" (run): evaluations in grid.out; else in layout.point_dir(grid.out, name)
    train_name: str = ""  # "" trains as the base profile, in the base run folders
    train: tuple[str, ...] = ()  # overrides after grid.overrides, for training
    execution: tuple[str, ...] = ()  # overrides applied to the trained policy's eval settings

    def train_prefix(self) -> tuple[str, ...]:
        return (self.train_name,) if self.train_name else ()

    def prefix(self) -> tuple[str, ...]:
        return (self.name,) if self.name else ()


@dataclass(frozen=True)
class DemoJob:
    task: str
    data_dir: Path
    cameras: tuple[str, ...]
    image_size: tuple[int, int]
    episodes: int
    seed: int
    style: str = "scripted"


@dataclass(frozen=True)
class TrainJob:
    task: str
    policy: str
    seed: int
    profile: str
    data_dir: Path
    run_dir: Path
    overrides: tuple[str, ...]
    device: str
    progress: bool
    episodes: int | None = None  # demos trained on: the first N of data_dir


@dataclass(frozen=True)
class EvalJob:
    task: str
    method: str
    seed: int
    episodes: int
    run_dir: Path | None  # None: a bound, which has no run
    eval_dir: Path
    videos: int
    device: str
    progress: bool
    execution: tuple[str, ...] = ()  # Variant.execution
    train_prefix: tuple[str, ...] = ()  # Variant.train_prefix()
    checkpoint: str = "best"  # Grid.checkpoint

    @property
    def policy_path(self) -> Path | None:
        """What is loaded and evaluated: the run folder (its best checkpoint) or a named one."""
        if self.run_dir is None or self.checkpoint == "best":
            return self.run_dir
        return Path(self.run_dir) / layout.RUN_CHECKPOINTS / self.checkpoint

    @property
    def train_key(self) -> tuple | None:
        """The training it waits for (None: a bound, evaluated at once)."""
        if self.run_dir is None:
            return None
        return *self.train_prefix, self.task, get_method(self.method).policy, self.seed


class Finished:
    """What is done on disk (the layout's done markers)."""

    def demos(self, data_dir: Path, episodes: int) -> bool:
        return layout.demos_complete(data_dir, episodes)

    def trained_steps(self, run_dir: Path) -> int:
        return layout.trained_steps(run_dir)

    def evaluation(self, eval_dir: Path, episodes: int, run_dir: Path | None, checkpoint: str = "best") -> bool:
        """run_dir None: a bound's evaluation (no checkpoint to match)."""
        if run_dir is None:
            return layout.summary_is_complete(eval_dir, episodes)
        named = None if checkpoint == "best" else checkpoint
        return layout.summary_is_complete(eval_dir, episodes, layout.evaluated_identity(run_dir, named))

    def run_present(self, run_dir: Path) -> bool:
        return Path(run_dir).exists()


@dataclass
class Plan:
    episodes: int
    run_dirs: dict[tuple, Path]  # (*train prefix, task, policy, seed) -> run folder
    demos: list[DemoJob] = field(default_factory=list)
    trainings: dict[tuple, TrainJob] = field(default_factory=dict)
    evals: dict[tuple, EvalJob] = field(default_factory=dict)  # (*variant prefix, task, method, seed)
    data_dirs: dict[tuple, Path] = field(default_factory=dict)  # (*train prefix, task, policy) -> demo folder
    profiles: dict[tuple, object] = field(default_factory=dict)  # run_dirs' keys -> the Profile trained

    def merge(self, other: "Plan") -> "Plan":
        """Add another variant's plan (a training both need is one job: same key, same folder)."""
        self.run_dirs.update(other.run_dirs)
        self.demos += [d for d in other.demos if d not in self.demos]
        for name in ("trainings", "evals", "data_dirs", "profiles"):
            getattr(self, name).update(getattr(other, name))
        return self


def make_plan(grid: Grid, profiles: dict, finished: Finished | None = None, progress: bool = True,
              variant: Variant = Variant()) -> Plan:
    """The jobs still to do. profiles: policy name -> its loaded Profile (the variant's);
    progress: whether jobs may draw progress bars (only when they run one at a time here). A
    training is due while its done.json has fewer steps than the profile asks; its evaluations
    are then redone too, since a new checkpoint makes them stale."""
    finished = finished or Finished()
    first = profiles[grid.policies[0]].eval if grid.policies else EvalConfig()  # bounds only: the default
    episodes = grid.episodes if grid.episodes is not None else first.episodes
    worker_progress = progress and grid.jobs == 1 and grid.executor == "local"
    tp, folder = variant.train_prefix(), layout.run_profile_folder(grid.profile, variant.train_name)
    plan = Plan(episodes, {(*tp, t, p, s): layout.run_dir(t, p, folder, s, grid.runs_root, grid.demo_style)
                           for t in grid.tasks for p in grid.policies for s in grid.seeds})
    plan.profiles = {key: profiles[key[-2]] for key in plan.run_dirs}
    out = layout.point_dir(grid.out, variant.name) if variant.name else grid.out
    kept = kept_trainings(grid, plan, finished, out) if grid.keep_evaluated else set()
    for t in grid.tasks:
        for p in grid.policies:
            data = profiles[p].data
            plan.data_dirs[(*tp, t, p)] = layout.demo_dir(t, data.image_size, data.cameras, grid.demos_root,
                                                          grid.demo_style)
            job = DemoJob(t, plan.data_dirs[(*tp, t, p)], tuple(data.cameras), tuple(data.image_size), grid.demos,
                          grid.demo_seed, grid.demo_style)
            needed = any((*tp, t, p, s) not in kept for s in grid.seeds)  # a kept seed trains on nothing
            if needed and job not in plan.demos and not finished.demos(job.data_dir, grid.demos):
                plan.demos.append(job)
    for key, run_dir in plan.run_dirs.items():
        *_, t, p, s = key
        if key not in kept and finished.trained_steps(run_dir) < profiles[p].train.steps:
            plan.trainings[key] = TrainJob(t, p, s, grid.profile, plan.data_dirs[(*tp, t, p)], run_dir,
                                         (*grid.overrides, *variant.train), grid.device, worker_progress,
                                         grid.demos)
    for t in grid.tasks:
        for m in grid.methods:
            for s in grid.seeds:
                key = (*tp, t, get_method(m).policy, s)
                if key in kept:
                    continue
                run_dir = plan.run_dirs[key] if get_method(m).trained else None
                job = EvalJob(t, m, s, episodes, run_dir, layout.eval_dir(out, t, m, s), grid.videos,
                              grid.device, worker_progress, tuple(variant.execution), tp, grid.checkpoint)
                if (job.train_key is not None and job.train_key in plan.trainings
                        or not finished.evaluation(job.eval_dir, episodes, run_dir, grid.checkpoint)):
                    plan.evals[(*variant.prefix(), t, m, s)] = job
    return plan


def kept_trainings(grid: Grid, plan: Plan, finished: Finished, out: Path) -> set[tuple]:
    """--keep-evaluated: the run_dirs keys whose run folder is not here (trained on another
    machine, or its runs folder deleted) while every method of the grid that evaluates that
    training has a whole evaluation in out. Those are results as they stand: neither retrained
    nor re-evaluated. A training some method has not evaluated yet is redone as usual, and its
    evaluations with it, so that one folder never mixes two trainings of one seed."""
    kept = set()
    for key, run_dir in plan.run_dirs.items():
        *_, t, p, s = key
        evals = [layout.eval_dir(out, t, m, s) for m in grid.methods
                 if get_method(m).trained and get_method(m).policy == p]
        if not finished.run_present(run_dir) and all(finished.evaluation(e, plan.episodes, None) for e in evals):
            kept.add(key)
    return kept


def parse_list(text: str, kind: str) -> list[str]:
    items = [x.strip() for x in str(text).split(",") if x.strip()]
    if not items:
        raise ActBenchError(f"--{kind} is empty")
    return list(dict.fromkeys(items))


def parse_seeds(text: str) -> list[int]:
    try:
        return [int(x) for x in parse_list(text, "seeds")]
    except ValueError:
        raise ActBenchError(f"--seeds must be integers separated by commas, got {text!r}") from None
