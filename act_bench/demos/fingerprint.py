"""A task's fingerprint: one hash of everything that defines it, so a frozen task stays frozen.

It covers the task's configuration (its TOML, parsed), every model file it loads (the model
and what it includes, byte for byte), and its scripted expert's plans on fixed layouts (the
waypoints of both arms in every mode, and the IK's approach posture weight). Plans are pure
arithmetic on the layout, so the hash is the same on every machine; what the simulator then
does with them is pinned by the fidelity tests.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from itertools import product

import numpy as np

from act_bench.storage.paths import assets_dir
from act_bench.tasks.registry import get_task

# layouts the plans are taken on: one per corner of each object's range, and the middle
LAYOUT_POINTS = (0.0, 0.5, 1.0)


def model_files(model: str) -> list[str]:
    """The model file and every file it includes or loads as a sub-model, in order."""
    seen: list[str] = []
    todo = [model]
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.append(name)
        text = (assets_dir() / name).read_text()
        todo += re.findall(r'<(?:include|model)\b[^>]*\bfile="([^"]+)"', text)
    return seen


def _plans(spec, config) -> list:
    """Both arms' waypoints on a few layouts, for every combination of the expert's modes."""
    from act_bench.envs.aloha import AlohaEnv

    env = AlohaEnv(spec.name, cameras=())
    try:
        env.reset(seed=0)
        expert = spec.expert(env)
        modes = list(product(*[[(name, option) for option in options] for name, options in expert.MODES.items()]))
        out = []
        for f in LAYOUT_POINTS:
            for name, box in config.objects.items():
                adr = env.stage_rule.object_qpos[name]
                env.data.qpos[adr:adr + 3] = np.asarray(box.low) + f * (np.asarray(box.high) - np.asarray(box.low))
            for combo in modes or [()]:
                expert.reset(dict(combo) if combo else None)
                out.append({side: [[w.t, *np.round(w.pos, 6).tolist(), *np.round(w.quat, 6).tolist(), round(w.grip, 6)]
                                   for w in traj.waypoints[1:]]  # [0] is where the arm happens to start
                            for side, traj in sorted(expert.plan.items())})
        return out
    finally:
        env.close()


def task_fingerprint(name: str) -> str:
    """sha256 (hex) of the task's configuration, model files and expert plans."""
    spec = get_task(name)
    config = spec.config()
    record = {
        "config": json.loads(json.dumps(dataclasses.asdict(config), default=str)),
        "models": {f: hashlib.sha256((assets_dir() / f).read_bytes()).hexdigest() for f in model_files(config.model)},
        "expert": spec.expert.__name__,
        "approach_posture": getattr(spec.expert, "APPROACH_POSTURE", 0.0),
        "plans": _plans(spec, config),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
