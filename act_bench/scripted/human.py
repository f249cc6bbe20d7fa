"""The human-like style: an expert's plan, changed by seeded per-episode draws.

Order (each step draws from one generator seeded by the episode seed, so the episode is
reproducible from its seed alone, and every draw is returned to be recorded):
  1. modes: one option per the expert's MODES (a different way of doing a step);
  2. correction: maybe one pick is first tried short (too high) and redone (plan_edit.redo_grasp);
  3. timing: a log-normal factor per segment, a pause at some waypoints, squeezed to fit;
  4. path: a smooth drift of each commanded hand position, steadier while grasping.
Parameters: style.HumanStyle.
"""
from __future__ import annotations

import numpy as np

from act_bench.scripted import plan_edit
from act_bench.scripted.style import HUMAN, HUMAN_STYLE_VERSION, HumanStyle

_HUMAN_STREAM = 22  # the draws' own stream: the env's reset and the scripted noise use the seed itself


def human_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_HUMAN_STREAM,)))


def draw_modes(modes: dict[str, dict[str, float]], rng: np.random.Generator) -> dict[str, str]:
    out = {}
    for name, options in modes.items():
        p = np.array(list(options.values()), float)
        out[name] = list(options)[int(rng.choice(len(p), p=p / p.sum()))]
    return out


def draw_correction(plan, style: HumanStyle, rng: np.random.Generator) -> dict | None:
    """Which pick (if any) is redone, and how far off its first try is: short of the grasp
    along the way the hand comes in (too high), and shifted sideways."""
    happens = rng.random() < style.correction_prob
    found = plan_edit.picks(plan)
    pick = int(rng.integers(len(found))) if found else 0
    short = rng.uniform(*style.miss_short_m)
    shift = rng.uniform(-style.miss_shift_m, style.miss_shift_m, 2)
    if not happens or not found:
        return None
    side, k = found[pick]
    miss = short * plan_edit.approach_direction(plan, side, k) + [shift[0], shift[1], 0.0]
    return {"side": side, "waypoint": k, "short_m": float(short), "shift_m": shift.tolist(),
            "miss_m": miss.tolist(), "retreat_m": style.retreat_m, "steps": list(style.correction_steps)}


def draw_timing(n_breakpoints: int, style: HumanStyle, rng: np.random.Generator) -> dict:
    factors = np.exp(rng.normal(0.0, style.segment_sigma, n_breakpoints - 1))
    paused = rng.random(n_breakpoints) < style.pause_prob
    lengths = rng.integers(style.pause_steps[0], style.pause_steps[1] + 1, n_breakpoints)
    return {"segment_factors": factors.tolist(), "pauses": np.where(paused, lengths, 0).tolist()}


def draw_path(sides, steps: int, style: HumanStyle, rng: np.random.Generator) -> dict:
    """Per arm: bump centres (steps), widths (steps) and per-axis amplitudes (metres)."""
    out = {}
    grid = np.arange(0, steps + style.bump_spacing, style.bump_spacing)
    for side in sides:
        centres = grid + rng.uniform(-0.5, 0.5, len(grid)) * style.bump_spacing
        widths = rng.uniform(*style.bump_width, len(grid))
        amps = rng.normal(0.0, style.path_amp_m, (len(grid), 3))
        out[side] = {"centres": centres.tolist(), "widths": widths.tolist(), "amps_m": amps.tolist()}
    return out


def path_offsets(bumps: dict, steps: int) -> np.ndarray:
    """(steps, 3) sum of Gaussian bumps."""
    t = np.arange(steps)[:, None]
    c, w, a = (np.asarray(bumps[k], float) for k in ("centres", "widths", "amps_m"))
    return np.exp(-0.5 * ((t - c[None]) / w[None]) ** 2) @ a


def steady_envelope(windows, steps: int, style: HumanStyle) -> np.ndarray:
    """1 outside the steady spans, style.steady_gain inside, with linear ramps between."""
    inside = np.zeros(steps)
    for a, b in windows:
        inside[max(0, a):max(0, min(steps, b + 1))] = 1.0
    ramp = max(1, style.steady_ramp)
    kernel = np.ones(2 * ramp + 1) / (2 * ramp + 1)
    weight = np.clip(np.convolve(np.pad(inside, ramp, mode="edge"), kernel, mode="valid"), 0, 1)
    return 1.0 - (1.0 - style.steady_gain) * weight


def grasp_windows(plan, style: HumanStyle) -> list[tuple[int, int]]:
    """The last steady_lead steps before each grasp closes, and the closing."""
    out = []
    for side, k in plan_edit.grasps(plan):
        wps = plan[side].waypoints
        out.append((wps[k].t - style.steady_lead, wps[k + 1].t))
    return out


def humanize(expert, seed: int, steps: int, style: HumanStyle = HUMAN) -> dict:
    """Reset `expert` (its env already reset) to a human-like plan; return every draw."""
    rng = human_rng(seed)
    modes = draw_modes(expert.MODES, rng)
    expert.style = "human"
    expert.reset(modes)
    plan = expert.plan
    correction = draw_correction(plan, style, rng)
    if correction is not None:
        plan = plan_edit.redo_grasp(plan, correction["side"], correction["waypoint"], correction["miss_m"],
                                    correction["steps"], correction["retreat_m"])
    timing = draw_timing(len(plan_edit.breakpoints(plan)), style, rng)
    plan, timing["squeezed_by"] = plan_edit.retime(plan, timing["segment_factors"], timing["pauses"],
                                                   min(style.end_step, steps - 1))
    path = draw_path(sorted(plan), steps, style, rng)
    envelope = steady_envelope(grasp_windows(plan, style) + expert.steady_windows(plan), steps, style)
    expert.plan = plan
    expert.offsets = {side: path_offsets(path[side], steps) * envelope[:, None] for side in plan}
    return {"style": "human", "version": HUMAN_STYLE_VERSION, "modes": modes, "correction": correction,
            "timing": timing, "path": path,
            "plan_end": max(w.t for traj in plan.values() for w in traj.waypoints)}


def draw_summary(draws: list[dict]) -> dict:
    """What a folder's recorded episodes drew: each mode option's count, corrections, pauses."""
    modes: dict[str, dict[str, int]] = {}
    for d in draws:
        for name, option in d["modes"].items():
            modes.setdefault(name, {})
            modes[name][option] = modes[name].get(option, 0) + 1
    pauses = [sum(p > 0 for p in d["timing"]["pauses"]) for d in draws]
    return {"episodes": len(draws), "modes": modes,
            "corrections": sum(d["correction"] is not None for d in draws),
            "mean_pauses": round(float(np.mean(pauses)), 3) if pauses else 0.0,
            "squeezed": sum(d["timing"]["squeezed_by"] < 1.0 for d in draws)}
