"""Typed training profiles: baselines/{policy}/{profile}.toml -> dataclasses, with --set overrides.

A profile holds everything a run needs apart from the task, seed and paths: the model (each
policy's own PolicyConfig subclass, documented and validated there), the data (cameras, image
size, split), the optimiser schedule and the evaluation settings.
"""
from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from act_bench.errors import ActBenchError
from act_bench.policies.registry import get_policy
from act_bench.sim import STATE_DIM

BACKBONES = ("small_cnn", "resnet18")
BACKBONE_NORMS = ("group", "frozen_bn")
# keys of the single model section every policy shared before each got its own config; a
# checkpoint or run written then still loads (a key its policy does not use is dropped)
_LEGACY_MODEL_KEYS = frozenset({"state_dim", "action_dim", "d_model", "n_heads", "dim_feedforward", "enc_layers",
                                "dec_layers", "cvae_enc_layers", "latent_dim", "kl_weight", "dropout", "pre_norm",
                                "backbone", "backbone_norm", "cnn_channels", "cnn_kernel", "mlp_hidden",
                                "mlp_layers", "loss"})


@dataclass
class PolicyConfig:
    """The [model] section fields every policy has; each policy subclasses it with its own."""

    chunk_size: int = 50  # actions predicted per query
    state_dim: int = STATE_DIM  # the robot's joint state (act_bench.sim.STATE_DIM)
    action_dim: int = STATE_DIM
    backbone: str = "small_cnn"  # "small_cnn" or "resnet18"
    backbone_norm: str = "group"  # resnet18 only: "group" or "frozen_bn"
    cnn_channels: tuple[int, ...] = (32, 64, 128, 256)  # small_cnn: one stride-2 conv each
    cnn_kernel: int = 3  # small_cnn: kernel size of every conv (odd)
    loss: str = "l1"  # "l1" or "mse" (the released BC-ConvMLP used mse)

    def observation_steps(self) -> int:
        """Observations a query reads: the current one, and observation_steps() - 1 before it
        (a policy that reads past ones overrides this; the data and the evaluation follow it)."""
        return 1

    def problems(self) -> list[tuple[bool, str]]:
        """(condition, message) pairs; a False condition is reported. Subclasses extend it."""
        return [
            (self.backbone in BACKBONES, f"model.backbone must be one of {', '.join(BACKBONES)}"),
            (self.backbone_norm in BACKBONE_NORMS, f"model.backbone_norm must be one of {', '.join(BACKBONE_NORMS)}"),
            (self.loss in ("l1", "mse"), "model.loss must be 'l1' or 'mse'"),
            (self.chunk_size >= 1, "model.chunk_size must be >= 1"),
            (self.state_dim >= 1 and self.action_dim >= 1, "model.state_dim and model.action_dim must be >= 1"),
            (len(self.cnn_channels) >= 1 and min(self.cnn_channels) > 0, "model.cnn_channels must be positive"),
            (self.cnn_kernel >= 1 and self.cnn_kernel % 2 == 1, "model.cnn_kernel must be an odd number >= 1"),
        ]


@dataclass
class DataConfig:
    cameras: tuple[str, ...] = ("top",)
    image_size: tuple[int, int] = (96, 128)  # (H, W); stored frames are resized on load
    val_fraction: float = 0.1  # of episodes; at least one when there are two or more
    max_episodes: int = 0  # 0 = every episode in the folder


@dataclass
class TrainConfig:
    steps: int = 14000
    batch_size: int = 16
    lr: float = 1e-4
    lr_backbone: float = 0.0  # 0 = same as lr
    weight_decay: float = 1e-4
    grad_clip: float = 10.0
    log_every: int = 50
    val_every: int = 500
    val_batches: int = 8
    checkpoint_every: int = 1000
    num_threads: int = 0  # 0 = one per core this job was given
    amp: str = "none"  # "bf16": autocast (CUDA or CPU); "auto": bf16 where the device computes it natively (train.py)


@dataclass
class EvalConfig:
    temporal_ensemble_m: float = 0.01  # ensembling weights exp(-m * i), i = 0 for the oldest
    n_action_steps: int = 0  # actions run open-loop per query without ensembling; 0 = chunk size
    episodes: int = 50


@dataclass
class Profile:
    """A trained policy's full configuration. `policy` names the policy (its registry name);
    records store it under "method", the name it had (config.json, checkpoints)."""

    policy: str
    profile: str
    model: PolicyConfig = field(default_factory=PolicyConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (tuples become lists), with the policy under its stored key "method"."""
        raw = dataclasses.asdict(self)
        return _jsonable({"method": raw.pop("policy"), **raw})

    def training_identity(self) -> dict[str, Any]:
        """What decides the trained weights (train.steps aside: a run may be trained further)."""
        raw = self.to_dict()
        raw.pop("eval")
        raw.pop("description")
        raw["train"].pop("steps")
        return raw

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Profile":
        """Inverse of to_dict; validates like load_profile."""
        raw = dict(raw)
        policy = raw.get("method", "")
        model_cls = get_policy(policy).config_class
        model = dict(raw.pop("model", {}) or {})
        fields = {f.name for f in dataclasses.fields(model_cls)}
        model = {k: v for k, v in model.items() if k in fields or k not in _LEGACY_MODEL_KEYS}
        sections = {name: _build_section(name, raw.pop(name, {}), section_cls)
                    for name, section_cls in _SECTIONS.items()}
        sections["model"] = _build_section("model", model, model_cls)
        extra = set(raw) - {"method", "profile", "description"}
        if extra:
            raise ActBenchError(f"unknown profile key {sorted(extra)[0]!r}")
        prof = cls(policy=policy, profile=raw.get("profile", ""), description=raw.get("description", ""),
                   **sections)
        prof.validate()
        return prof

    def validate(self) -> None:
        d, t, e = self.data, self.train, self.eval
        checks = self.model.problems() + [
            (len(d.cameras) >= 1, "data.cameras must name at least one camera"),
            (len(d.image_size) == 2 and min(d.image_size) >= 16, "data.image_size must be [H, W], each >= 16"),
            (0.0 <= d.val_fraction < 1.0, "data.val_fraction must be in [0, 1)"),
            (t.steps >= 1 and t.batch_size >= 1, "train.steps and train.batch_size must be >= 1"),
            (t.lr > 0 and t.lr_backbone >= 0, "train.lr must be > 0 and train.lr_backbone >= 0"),
            (min(t.log_every, t.val_every, t.checkpoint_every, t.val_batches) >= 1,
             "train.log_every, val_every, checkpoint_every and val_batches must be >= 1"),
            (t.num_threads >= 0, "train.num_threads must be >= 0"),
            (t.amp in ("none", "bf16", "auto"), "train.amp must be 'none', 'bf16' or 'auto'"),
            (e.temporal_ensemble_m >= 0, "eval.temporal_ensemble_m must be >= 0"),
            (0 <= e.n_action_steps <= self.model.chunk_size, "eval.n_action_steps must be in [0, model.chunk_size]"),
            (e.episodes >= 1, "eval.episodes must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ActBenchError(f"profile {self.policy}/{self.profile}: {message}")


_SECTIONS = {"data": DataConfig, "train": TrainConfig, "eval": EvalConfig}


def available_profiles(policy: str) -> list[str]:
    folder = _profile_folder(policy)
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def _profile_folder(policy: str) -> Path:
    return get_policy(policy).profiles_dir


def profile_path(policy: str, profile: str) -> Path:
    path = _profile_folder(policy) / f"{profile}.toml"
    if not path.is_file():
        choices = ", ".join(available_profiles(policy)) or "none found"
        raise ActBenchError(f"unknown profile {profile!r} for policy {policy}; choose from {choices}")
    return path


def load_profile(policy: str, profile: str, overrides: Mapping[str, Any] | list[str] | None = None) -> Profile:
    """Load the policy's {profile}.toml (baselines/{policy}/ for the built-ins), apply overrides
    ("section.key=value" strings or a {"section.key": value} mapping) and validate."""
    raw = read_profile_toml(profile_path(policy, profile))
    raw["method"], raw["profile"] = policy, profile
    return Profile.from_dict(_apply(raw, overrides))


def read_profile_toml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A profile TOML as a dict; `extends = "other.toml"` (relative to this file) takes that
    profile's tables first, then this file's keys over them, table by table (a key the policy
    has no field for is an error, as in any profile)."""
    path = path.resolve()
    if path in seen:
        raise ActBenchError(f"{path}: profiles extend each other in a circle")
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ActBenchError(f"{seen[-1] if seen else path}: extends {path}, which does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ActBenchError(f"{path}: invalid TOML: {exc}") from None
    base = raw.pop("extends", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise ActBenchError(f"{path}: extends must be a file name, got {base!r}")
    merged = read_profile_toml(path.parent / base, (*seen, path))
    for key, value in raw.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def apply_overrides(profile: Profile, overrides: Mapping[str, Any] | list[str] | None) -> Profile:
    """A new Profile with overrides applied (the given one is left alone)."""
    return Profile.from_dict(_apply(profile.to_dict(), overrides))


def _apply(raw: dict[str, Any], overrides) -> dict[str, Any]:
    for key, value in parse_overrides(overrides).items():
        section, _, name = key.partition(".")
        if section not in (*_SECTIONS, "model") or not name:
            raise ActBenchError(f"unknown config key {key!r}; keys look like model.d_model or train.steps")
        raw.setdefault(section, {})[name] = value
    return raw


def parse_overrides(overrides: Mapping[str, Any] | list[str] | None) -> dict[str, Any]:
    """["train.steps=2000", "data.cameras=['top','angle']"] -> {"train.steps": 2000, ...}.
    Values are read as TOML values when they parse, else taken as plain strings."""
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return dict(overrides)
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ActBenchError(f"bad override {item!r}; use KEY=VALUE, e.g. train.steps=2000")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        out[key.strip()] = value
    return out


def _build_section(name: str, values: Mapping[str, Any], cls: type):
    if not isinstance(values, Mapping):
        raise ActBenchError(f"profile section [{name}] must be a table")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            valid = ", ".join(f.name for f in dataclasses.fields(cls))
            raise ActBenchError(f"unknown config key '{name}.{key}'; valid keys in [{name}]: {valid}")
        kwargs[key] = _coerce(f"{name}.{key}", value, hints[key])
    return cls(**kwargs)


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    bad = ActBenchError(f"config key {key!r}: expected {_type_name(hint)}, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _coerce(key, value, next(a for a in args if a is not type(None)))
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(key, v, args[0]) for v in value)
        if len(value) != len(args):
            raise bad
        return tuple(_coerce(key, v, a) for v, a in zip(value, args))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad
        return value
    raise bad


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
