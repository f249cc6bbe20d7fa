"""What `act-bench sweep` varies: --param KEY=V1,V2,... parsed and checked, the points of their
product, and which points train (sweep.py plans and runs them).

A field of the profile's eval section is execution-only: Profile.training_identity leaves it
out, since it does not change the weights. A point that differs from the base profile only in
such fields evaluates the base training (no training of its own). Every other field trains: its
values are runs of their own (run folder {profile}+{key}={value}), unless a value leaves the
training as the base profile's (e.g. model.chunk_size=50 on a profile whose chunk size is 50),
which then reuses the base run: the one `act-bench run` trains with the same profile and --set.
"""
from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass

from act_bench.errors import ActBenchError
from act_bench.evaluation.ensembling import Execution
from act_bench.grid.plan import Variant
from act_bench.policies.config import EvalConfig, Profile, apply_overrides, parse_overrides
from act_bench.policies.registry import get_method

SECTIONS = ("model", "data", "train", "eval")
# the sections that do not decide the weights (eval, today), read from the profile itself
EXECUTION_SECTIONS = tuple(s for s in SECTIONS if s not in Profile(policy="", profile="").training_identity())
_LABEL = re.compile(r"^[A-Za-z0-9._-]+$")  # a value's name in folder names; "+" joins fields


@dataclass(frozen=True)
class Param:
    """One --param: a profile field and the values it takes, as the user wrote them."""

    key: str
    texts: tuple[str, ...]

    @property
    def execution_only(self) -> bool:
        return is_execution_only(self.key)

    def labels(self) -> list[str]:
        return [value_label(parse_overrides([f"{self.key}={t}"])[self.key]) for t in self.texts]


@dataclass(frozen=True)
class Point:
    """One combination of the swept values: ((key, text), ...) in --param order."""

    values: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        """Its results folder: model.chunk_size=10+eval.temporal_ensemble_m=0.01."""
        return "+".join(f"{k}={_label(k, t)}" for k, t in self.values)

    def overrides(self, execution_only: bool) -> tuple[str, ...]:
        return tuple(f"{k}={t}" for k, t in self.values if is_execution_only(k) == execution_only)

    def train_name(self) -> str:
        return "+".join(f"{k}={_label(k, t)}" for k, t in self.values if not is_execution_only(k))


def is_execution_only(key: str) -> bool:
    return key.partition(".")[0] in EXECUTION_SECTIONS


def value_label(value) -> str:
    """A value as it appears in folder names and the results table: 10, 0.01, resnet18, 96x128."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "x".join(value_label(v) for v in value)
    return str(value)


def _label(key: str, text: str) -> str:
    return value_label(parse_overrides([f"{key}={text}"])[key])


def split_values(text: str) -> list[str]:
    """"1,10,50" -> ["1", "10", "50"]; commas inside brackets or quotes stay ("[96,128],[48,64]")."""
    parts, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    return [*parts, current.strip()]


def parse_param(text: str) -> Param:
    """"model.chunk_size=1,10,50,100" -> Param; a one-line ActBenchError for bad input."""
    key, sep, rest = str(text).partition("=")
    key = key.strip()
    if not sep or not key:
        raise ActBenchError(f"bad --param {text!r}; use KEY=V1,V2,..., e.g. model.chunk_size=1,10,50,100")
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name or "." in name:
        raise ActBenchError(f"--param {key}: unknown profile field; fields look like model.chunk_size or "
                            f"eval.temporal_ensemble_m (sections: {', '.join(SECTIONS)})")
    texts = split_values(rest)
    if not rest.strip() or any(not t for t in texts):
        raise ActBenchError(f"--param {key}: empty value list or empty value in {rest!r}; give values like "
                            f"{key}=1,10")
    param = Param(key, tuple(texts))
    labels = param.labels()
    for t, label in zip(texts, labels):
        if not _LABEL.match(label):
            raise ActBenchError(f"--param {key}: value {t!r} cannot name a folder (letters, digits, . _ - only)")
    if len(set(labels)) < len(labels):
        twice = next(lb for lb in labels if labels.count(lb) > 1)
        raise ActBenchError(f"--param {key}: value {twice} is listed twice")
    return param


def parse_params(texts, overrides=()) -> tuple[Param, ...]:
    """Every --param, checked against each other and against --set."""
    if not texts:
        raise ActBenchError("--param: name at least one field to sweep, e.g. --param model.chunk_size=1,10,50,100")
    params = tuple(parse_param(t) for t in texts)
    keys = [p.key for p in params]
    for key in keys:
        if keys.count(key) > 1:
            raise ActBenchError(f"--param {key} is given twice; list all its values in one --param")
    for key in parse_overrides(list(overrides)):
        if key in keys:
            raise ActBenchError(f"{key} is both swept (--param) and fixed (--set); drop one")
    return params


def points(params) -> list[Point]:
    """The product of the params' values, the first param varying slowest."""
    return [Point(tuple(zip((p.key for p in params), combo))) for combo in itertools.product(*(p.texts for p in params))]


def variant(point: Point, base: dict, profiles: dict, fixed=()) -> Variant:
    """The point's Variant. base / profiles: policy -> Profile without / with the point's values;
    fixed: --set, whose eval fields also apply to a reused model. The point trains in its own
    folders unless, for every policy, it changes neither the training identity nor the steps."""
    same = all(profiles[p].training_identity() == base[p].training_identity()
               and profiles[p].train.steps == base[p].train.steps for p in profiles)
    fixed_exec = tuple(o for o in fixed if is_execution_only(o.partition("=")[0].strip()))
    train = () if same else point.overrides(execution_only=False)
    return Variant(point.name, "" if same else point.train_name(), train,
                   (*fixed_exec, *point.overrides(execution_only=True)))


def execution_for(policy, method: str, overrides):
    """How a trained policy runs with eval-only overrides on top of its own profile's settings
    (a policy without a profile, like a test's stand-in, starts from EvalConfig's defaults)."""
    profile = getattr(policy, "profile", None)
    if isinstance(profile, Profile):
        cfg = apply_overrides(profile, list(overrides)).eval
    else:
        values = {k.partition(".")[2]: v for k, v in parse_overrides(list(overrides)).items()}
        cfg = dataclasses.replace(EvalConfig(), **values)
    return Execution.resolve(get_method(method).execution, int(policy.chunk_size), cfg)
