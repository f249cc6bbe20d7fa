"""One change at a time: variants of transfer_cube_v2 that differ from it in exactly one thing,
to find out why a policy misses on -v2 without touching the frozen task.

    python scripts/one_change.py run --tasks transfer_cube_v2_noshadow --methods act,act-no-te \
        --seeds 0 --profile cpu --episodes 50 --demos 50 --runs-root R --demos-root D --out O

registers the variants below, then runs the act-bench command line with the arguments given
(any command: generate-demos, run, eval, ...). Each variant has its own task name, so its demos,
runs and results never mix with the real task's. Evaluation seeds do not depend on the task, so
a variant's episode k starts from the same cube pose as transfer_cube_v2's episode k.

- transfer_cube_v2_noshadow: no shadows (look.shadow_size = 0); everything else, the expert
  included, is transfer_cube_v2's.
- transfer_cube_v2_v1grasp: the expert grasps where -v1's does (grip site 1 cm above the
  resting cube's centre, centred in x) instead of where the original release's fingers close
  (9 mm further back, 3.35 cm higher); the look and everything else is transfer_cube_v2's.

    python scripts/one_change.py compare BASE_EVAL_DIR VARIANT_EVAL_DIR [BASE2 VARIANT2 ...]

pairs two evaluations of one method and seed (folders holding episodes.csv) episode by episode
and prints how many succeed in both, in only one and in neither, with the exact two-sided
McNemar p-value of the discordant pairs: a test of those two trained models. Given several
pairs, one per training seed, it then tests the change itself with the training run as the
unit (act-bench compare's paired test over seeds, act_bench/evaluation/seed_tests.py): the
variant's success rate minus the base's per seed, their mean with a 95% t interval, the t test
and the exact sign-flip test. Episodes are not pooled over seeds: two trainings differ more
than two sets of episodes do (docs/statistics.md).

Not part of the benchmark: no built-in task list shows them.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from act_bench.evaluation.seed_tests import mcnemar_p, paired_effect
from act_bench.tasks.registry import TaskSpec, register_task
from act_bench.tasks.transfer_cube import TransferCubeExpertV2, TransferCubeStagesV2

HERE = Path(__file__).resolve().parent / "one_change"


class TransferCubeExpertV1Grasp(TransferCubeExpertV2):
    """transfer_cube_v2's expert with -v1's grasp: -v1 puts the grip site 1 cm above the centre
    of the resting cube (z 0.02); -v2 plans from the t = 0 pose (z 0.05), so that is -0.02 here.
    The carry to the meeting point follows from GRASP, so the cube still travels the release's
    path."""

    GRASP = np.array([0.0, 0.0, TransferCubeExpertV2.REST_Z + 0.01 - 0.05])


VARIANTS = (
    TaskSpec(name="transfer_cube_v2_noshadow", env_id="act_bench_one_change/TransferCubeNoShadow-v2",
             stage_rule=TransferCubeStagesV2, expert=TransferCubeExpertV2,
             config_file=HERE / "transfer_cube_v2_noshadow.toml", default=False),
    TaskSpec(name="transfer_cube_v2_v1grasp", env_id="act_bench_one_change/TransferCubeV1Grasp-v2",
             stage_rule=TransferCubeStagesV2, expert=TransferCubeExpertV1Grasp,
             config_file=HERE / "transfer_cube_v2_v1grasp.toml", default=False),
)


def register_variants() -> None:
    for spec in VARIANTS:
        register_task(spec)


# at import, not in main(): worker processes started with "spawn" (demo generation, --jobs > 1)
# re-import this file as __mp_main__ and must know the variants too
register_variants()


def paired(base: Path, variant: Path) -> dict[str, int]:
    """Success counts over the episodes both evaluations ran, matched by episode seed."""
    import pandas as pd

    a, b = (pd.read_csv(Path(d) / "episodes.csv").set_index("seed")["success"] for d in (base, variant))
    both = a.index.intersection(b.index)
    a, b = a[both].astype(bool), b[both].astype(bool)
    return {"episodes": len(both), "both": int((a & b).sum()), "only_base": int((a & ~b).sum()),
            "only_variant": int((~a & b).sum()), "neither": int((~a & ~b).sum())}


def compare(argv: list[str]) -> int:
    if not argv or len(argv) % 2 or not all((Path(d) / "episodes.csv").is_file() for d in argv):
        print("usage: one_change.py compare BASE_EVAL_DIR VARIANT_EVAL_DIR [BASE2 VARIANT2 ...] "
              "(folders holding episodes.csv)", file=sys.stderr)
        return 2
    pairs = [paired(Path(b), Path(v)) for b, v in zip(argv[::2], argv[1::2])]
    if not all(c["episodes"] for c in pairs):
        print("error: a pair of evaluations shares no episode seed", file=sys.stderr)
        return 2
    for c in pairs:
        print(f"{c['episodes']} paired episodes: base {c['both'] + c['only_base']}, "
              f"variant {c['both'] + c['only_variant']}; both {c['both']}, only base {c['only_base']}, "
              f"only variant {c['only_variant']}, neither {c['neither']}; "
              f"McNemar exact p = {mcnemar_p(c['only_base'], c['only_variant']):.3g} (these two trained models)")
    if len(pairs) > 1:  # one pair per training seed: the change itself, each seed one unit
        from act_bench.report.compare import effect_text

        diffs = [(c["only_variant"] - c["only_base"]) / c["episodes"] for c in pairs]
        print(f"over {len(pairs)} training seeds, variant - base: {effect_text(paired_effect([diffs]))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:
        return compare(argv[1:])
    from act_bench.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
