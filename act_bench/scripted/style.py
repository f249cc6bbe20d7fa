"""Demonstration styles: `scripted` (the clockwork experts) and `human` (human-like).

The human-like style's parameters live here and nowhere else, frozen (HumanStyle) and
versioned (HUMAN_STYLE_VERSION): they are recorded in every demo folder's settings, so
changing one is a new style version and a new demo identity, never a silent edit. They were
set from how a person teleoperating a leader arm moves (README, Human-like demonstrations),
before any policy was trained on them; never tune them to move a policy's result.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from act_bench.errors import ActBenchError

STYLES = ("scripted", "human")
HUMAN_STYLE_VERSION = "human-1"


@dataclass(frozen=True)
class HumanStyle:
    # timing: every segment between two waypoints (of either arm) takes the scripted duration
    # times a log-normal factor (median 1): a person is never on the clock
    segment_sigma: float = 0.3  # sigma of log(factor): 68% of segments within x0.74 .. x1.35
    pause_prob: float = 0.2  # chance of a hesitation at each waypoint (and before starting)
    pause_steps: tuple[int, int] = (5, 30)  # its length, uniform: 0.1 .. 0.6 s at 50 Hz
    end_step: int = 385  # the plan ends by here (of 400): longer draws are squeezed to fit
    # path: the commanded hand position drifts by a sum of smooth bumps (slow, 0.3-1 Hz: a
    # hand's positional error, not its 8-12 Hz tremor, which is under 1 mm)
    path_amp_m: float = 0.004  # per-axis amplitude of each bump, normal sd (metres)
    bump_spacing: int = 20  # steps between bump centres (jittered by +-half)
    bump_width: tuple[int, int] = (8, 20)  # Gaussian sd of each bump in steps, uniform
    steady_gain: float = 0.25  # the drift's scale while grasping or inserting (eyes on it)
    steady_ramp: int = 10  # steps over which the drift fades in and out of a steady span
    steady_lead: int = 30  # a grasp's steady span starts this many steps before it closes
    # corrections: now and then the first grasp stops short, closes, is reopened and redone
    correction_prob: float = 0.15  # per episode; which pick is uniform over the plan's picks
    miss_short_m: tuple[float, float] = (0.02, 0.035)  # the first try stops this much short of the grasp
    miss_shift_m: float = 0.008  # ... and this far off horizontally (uniform per axis, +-)
    retreat_m: float = 0.05  # after reopening, the hand backs off to this far from the grasp
    correction_steps: tuple[int, int, int, int] = (12, 10, 15, 20)  # close, reopen, back off, in again
    max_attempts: int = 30  # tries per episode (each a fresh seed) before giving up

    def record(self) -> dict:
        return {"version": HUMAN_STYLE_VERSION, **{k: list(v) if isinstance(v, tuple) else v
                                                   for k, v in asdict(self).items()}}


HUMAN = HumanStyle()


def check_style(style: str) -> str:
    if style not in STYLES:
        raise ActBenchError(f"unknown demo style {style!r}; choose from {', '.join(STYLES)}")
    return style


def style_settings(style: str) -> dict:
    """What a demo folder's settings.json adds for its style: nothing for scripted demos (so
    folders recorded before styles existed keep their identity), the frozen parameters else."""
    check_style(style)
    return {} if style == "scripted" else {"style": style, "style_params": HUMAN.record()}


def settings_style(settings: dict | None) -> str:
    """The style of a folder's settings: absent means scripted, or imported for a folder
    import-lerobot wrote (its settings name a source)."""
    settings = settings or {}
    return settings.get("style") or ("imported" if "source" in settings else "scripted")
