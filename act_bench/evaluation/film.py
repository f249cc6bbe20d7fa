"""Chosen episodes of an evaluation rolled out again with a video of each: to watch how a
policy fails (`act-bench eval --run RUN --film 3,17` or `--film failed`).

Episode i starts from eval_seed(seed, i), as in the evaluation, and the films go to
OUT/films/episode_XXX.mp4 with OUT/films/films.csv (one row per filmed episode). When OUT holds
the evaluation they come from (eval.json of the same task, method, seed, checkpoint and
execution), each row also gives the stage that evaluation recorded and whether the film
reached the same one: the evaluation stepped its episodes in batches, and a batched forward pass
may differ from this one by float rounding, which can change a contact-rich episode. The
evaluation's own files are never touched and nothing is scored here.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from act_bench.errors import ActBenchError
from act_bench.evaluation.ensembling import Execution
from act_bench.evaluation.env_slots import make_slots
from act_bench.evaluation.lockstep import run_lockstep
from act_bench.evaluation.rollout import ChunkPolicy
from act_bench.evaluation.table_checks import read_episodes
from act_bench.runtime.seeding import eval_seed
from act_bench.sim import VIDEO_SIZE
from act_bench.sim.video import EpisodeVideo
from act_bench.storage import folder_lock, layout
from act_bench.storage.atomic_io import remove_stale_temps, write_csv

FILMS = "films"
FILMS_CSV = "films.csv"
COLUMNS = ["episode", "seed", "max_stage", "success", "length", "recorded_max_stage", "reproduced"]


@dataclass(frozen=True)
class FilmJob:
    """Which episodes to film, of which evaluation (task, training seed, its folder), and the
    stages that evaluation recorded (recorded_episodes) when its folder holds it."""

    task: str
    seed: int
    out_dir: Path
    episodes: list[int]
    recorded: pd.DataFrame | None = None


def film_path(out_dir: Path, episode: int) -> Path:
    return Path(out_dir) / FILMS / f"episode_{episode:03d}.mp4"


def parse_episodes(text: str) -> list[int] | str:
    """--film's value: comma-separated episode indices (sorted, duplicates dropped), or "failed"."""
    if text.strip() == "failed":
        return "failed"
    try:
        episodes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ActBenchError(f"--film takes episode indices such as 3,17 or the word failed, got {text!r}") from None
    if not episodes or episodes[0] < 0:
        raise ActBenchError(f"--film takes episode indices >= 0 such as 3,17 or the word failed, got {text!r}")
    return episodes


def recorded_episodes(out_dir: Path, meta: dict) -> pd.DataFrame | None:
    """OUT's episodes.csv when OUT holds this same evaluation; None when it holds none; refused
    when it holds another (its stages would say nothing of these films)."""
    old = layout.read_json_record(Path(out_dir) / layout.EVAL_META)
    if old is None:
        return None
    differs = [k for k, v in meta.items() if k in old and old[k] != v]
    if differs:
        raise ActBenchError(f"{out_dir} holds an evaluation with another {', '.join(differs)}; film into another "
                            "--out, or give the settings it was made with")
    path = Path(out_dir) / layout.EVAL_EPISODES
    return read_episodes(path) if path.exists() else None


def choose(episodes: list[int] | str, recorded: pd.DataFrame | None, count: int) -> list[int]:
    """The indices to film: those given, or the first `count` failed episodes of the recorded evaluation."""
    if episodes != "failed":
        return episodes
    if recorded is None:
        raise ActBenchError("--film failed needs the evaluation in --out (its episodes.csv); evaluate first, or give "
                            "episode indices")
    failed = sorted(int(e) for e in recorded.loc[recorded["success"] == 0, "episode"])
    if not failed:
        raise ActBenchError(f"the evaluation's {len(recorded)} episodes all succeeded: nothing failed to film")
    return failed[:count]


def film_episodes(policy: ChunkPolicy, job: FilmJob, execution: Execution, env_factory=None,
                  batch: int = 16) -> pd.DataFrame:
    """Roll out the job's episodes with a video of each into out_dir/films; returns (and merges
    into films.csv) their rows, beside the recorded evaluation's stages when there is one."""
    out_dir, seed, episodes = job.out_dir, job.seed, job.episodes
    films = Path(out_dir) / FILMS
    with folder_lock.hold(out_dir):
        films.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(films)
        if env_factory is None:
            from act_bench.envs import make_env as env_factory
        make = functools.partial(env_factory, job.task, cameras=tuple(policy.camera_names),
                                 image_size=tuple(policy.image_size), render_mode="rgb_array")
        envs = make_slots(make, max(1, min(batch, len(episodes))), policy.camera_names, 0)
        rows: dict[int, dict] = {}
        try:
            stage_names = envs.stage_names
            policy.eval()
            run_lockstep(envs, policy, execution, [(i, eval_seed(seed, i)) for i in episodes], stage_names,
                         lambda i, row: rows.__setitem__(i, {"episode": i, "seed": eval_seed(seed, i), **row}),
                         lambda i: EpisodeVideo(film_path(out_dir, i), stage_names, size=VIDEO_SIZE))
        finally:
            envs.close()
        table = _beside_recorded(pd.DataFrame([rows[i] for i in episodes]), job.recorded)
        write_csv(films / FILMS_CSV, _merge(films / FILMS_CSV, table))
    return table


def _beside_recorded(table: pd.DataFrame, recorded: pd.DataFrame | None) -> pd.DataFrame:
    stages = {} if recorded is None else dict(zip(recorded["episode"].astype(int), recorded["max_stage"].astype(int)))
    table["recorded_max_stage"] = [stages.get(int(e), pd.NA) for e in table["episode"]]
    table["reproduced"] = [pd.NA if int(e) not in stages else int(stages[int(e)] == int(s))
                           for e, s in zip(table["episode"], table["max_stage"])]
    return table[COLUMNS]


def _merge(path: Path, table: pd.DataFrame) -> pd.DataFrame:
    """Earlier films of other episodes stay listed; a refilmed episode gets its new row."""
    if not path.exists():
        return table
    try:
        old = pd.read_csv(path)
        old = old[~old["episode"].isin(table["episode"])][COLUMNS]
    except (ValueError, KeyError, pd.errors.ParserError):
        raise ActBenchError(f"{path} is damaged; delete it (the films beside it stay) and film again") from None
    return pd.concat([old, table]).sort_values("episode")[COLUMNS]


def describe(table: pd.DataFrame, stage_names, out_dir: Path) -> str:
    """A line per film: the best stage it reached, beside the evaluation's when there is one."""
    names, lines = ["none", *stage_names], []
    for row in table.itertuples():
        was = "" if pd.isna(row.recorded_max_stage) else (
            f" (the evaluation: {names[int(row.recorded_max_stage)]}; "
            + ("the same)" if row.reproduced == 1 else "not reproduced: float rounding of its batched pass)"))
        lines.append(f"episode {row.episode}: best stage {names[int(row.max_stage)]}{was} -> "
                     f"{film_path(out_dir, row.episode)}")
    return "\n".join([*lines, f"films in {Path(out_dir) / FILMS}"])
