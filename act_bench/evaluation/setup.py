"""How a trained run is evaluated, the one set-up `act-bench run` and `act-bench eval` share:
its thread count (threads.run_threads), the env workers beside the policy's device, which
checkpoint it is (policy_id, so results of an older one are noticed) and what it was trained on;
and how a bound (a method that needs no training: policies.bounds) is evaluated beside them.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from act_bench.errors import ActBenchError
from act_bench.evaluation.ensembling import Execution
from act_bench.evaluation.env_slots import default_workers
from act_bench.evaluation.evaluate import EvalSpec, evaluate_policy
from act_bench.evaluation.rollout import ChunkPolicy, policy_device
from act_bench.policies.registry import get_method
from act_bench.runtime import out_of_memory
from act_bench.runtime.threads import run_threads, torch_threads
from act_bench.storage import layout


@dataclasses.dataclass(frozen=True)
class RunSetup:
    """What the evaluation of a trained run takes from the run itself."""

    threads: int
    env_workers: int
    policy_id: str | None
    trained_on: dict


def trained_on(run_dir) -> dict:
    """What a run was trained on and where: its demos (provenance.run_demos), thread count,
    CPU and versions, from its config.json ({} when there is none)."""
    from act_bench.data.provenance import run_demos

    config = layout.read_run_config(run_dir)
    if config is None:
        return {}
    return {"demos": run_demos(config), "threads": config.get("threads"), **(config.get("machine") or {}),
            "versions": config.get("versions")}


def run_facts(run_dir, policy) -> dict:
    """task and seed of a run: its config.json over the checkpoint's own record."""
    meta = getattr(policy, "checkpoint_meta", None) or {}
    facts = {k: meta[k] for k in ("task", "seed") if k in meta}
    config = layout.read_run_config(run_dir) or {}
    facts.update({k: config[k] for k in ("task", "seed") if k in config})
    return facts


def setup_for_run(run: str | Path, policy: ChunkPolicy, env_workers: int | None = None) -> RunSetup:
    """The set-up for evaluating `policy`, loaded from `run` (a run folder or one of its
    checkpoints); env_workers None: default_workers for the thread count and the policy's device."""
    run_dir, checkpoint = layout.split_checkpoint_path(run)
    threads = run_threads(run_dir)
    if env_workers is None:
        env_workers = default_workers(threads, str(policy_device(policy)))
    elif env_workers < 0:
        raise ActBenchError(f"--env-workers must be >= 0, got {env_workers}")
    # a named checkpoint is another policy than the run's default one
    step = (getattr(policy, "checkpoint_meta", None) or {}).get("step") if checkpoint else None
    return RunSetup(threads, env_workers, layout.evaluated_identity(run_dir, checkpoint, step), trained_on(run_dir))


def evaluate_run(policy: ChunkPolicy, spec: EvalSpec, run: str | Path, env_workers: int | None = None,
                 execution: Execution | None = None, env_factory=None, progress: bool = True) -> dict:
    """Evaluate a trained run's policy with the run's set-up (spec's policy_id, trained_on and
    env_workers are taken from it); returns the summary."""
    setup = setup_for_run(run, policy, env_workers)
    spec = dataclasses.replace(spec, policy_id=setup.policy_id, trained_on=setup.trained_on,
                               env_workers=setup.env_workers)
    with torch_threads(setup.threads), eval_out_of_memory_explained(spec, policy):
        return evaluate_policy(policy, spec, execution, env_factory=env_factory, progress=progress)


def bound_identity(method: str) -> str:
    """A bound's policy_id: no checkpoint, the registered method itself."""
    return f"bound {method} (no training)"


def evaluate_bound(spec: EvalSpec, env_factory=None, progress: bool = True) -> dict:
    """Evaluate the bound spec.method names on spec.task (its policy made by the registry, its
    envs in this process; no run, so nothing trained_on); returns the summary."""
    method = get_method(spec.method)
    if method.trained:
        raise ActBenchError(f"method {spec.method} executes a trained {method.policy!r} policy: evaluate its run")
    spec = dataclasses.replace(spec, policy_id=bound_identity(spec.method), trained_on={}, env_workers=0)
    return evaluate_policy(method.make(spec.task), spec, env_factory=env_factory, progress=progress)


def eval_out_of_memory_explained(spec: EvalSpec, policy):
    """One line for an evaluation that runs out of memory: its episodes so far stay in episodes.csv."""
    return out_of_memory.explained(
        lambda: f"evaluating {spec.method} on {spec.task} with --batch {spec.batch} episodes stepped together "
                f"(on {policy_device(policy)})",
        "--batch (it changes no outcome)",
        lambda: "a rerun of the same command resumes after the episodes already in episodes.csv")
