"""Checkpoints: safetensors weights beside a JSON file (policy name, full config, normalisation
statistics, step, versions, the weights' sha256). Never pickles: torch.load is not used, and a
file that is not safetensors is refused before anything in it is parsed.

Every file is written to a temporary name in the same folder and moved into place with
os.replace, so a crash leaves either the old file or the new one; the JSON is written last.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

import act_bench
from act_bench.data.normalization import NormStats
from act_bench.errors import ActBenchError, CheckpointError
from act_bench.policies.base import Policy, build_policy
from act_bench.policies.config import Profile
from act_bench.runtime.versions import package_versions
from act_bench.storage import layout
from act_bench.storage.atomic_io import write_bytes, write_json
from act_bench.storage.layout import damaged

FORMAT = "act-bench-checkpoint"
FORMAT_VERSION = 1


# --- safetensors -----------------------------------------------------------------------------
def save_tensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor]) -> str:
    """Write tensors as safetensors (atomically); returns the file's sha256."""
    data = st_save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()})
    write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def read_tensors(path: str | os.PathLike, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file, refusing anything else (pickles included) with CheckpointError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint weights: {exc.strerror or exc}") from None
    # safetensors = u64 little-endian header length, then a JSON header starting with '{'
    if len(data) < 10 or data[8:9] != b"{" or 8 + struct.unpack("<Q", data[:8])[0] > len(data):
        kind = " (it looks like a pickle/torch.save file)" if data[:2] in (b"PK", b"\x80\x02", b"\x80\x04") else ""
        raise CheckpointError(f"{path}: not a safetensors file{kind}")
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise CheckpointError(f"{path}: sha256 does not match its JSON (partially written or replaced?)")
    try:
        return st_load(data)
    except Exception as exc:  # safetensors raises its own error type on a corrupt header
        raise CheckpointError(f"{path}: not a valid safetensors file: {' '.join(str(exc).split())}") from None


def load_state_strict(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], source: Path | str) -> None:
    """Load tensors into module after checking keys, shapes and dtypes; the first mismatch is named."""
    expected = module.state_dict()
    for key, ref in expected.items():
        if key not in tensors:
            raise CheckpointError(f"{source}: missing tensor {key!r} needed by the config")
        got = tensors[key]
        if tuple(got.shape) != tuple(ref.shape):
            raise CheckpointError(f"{source}: tensor {key!r} has shape {tuple(got.shape)} "
                                  f"but the config builds {tuple(ref.shape)}")
        if got.dtype != ref.dtype:
            raise CheckpointError(f"{source}: tensor {key!r} has dtype {got.dtype}, expected {ref.dtype}")
    extra = [k for k in tensors if k not in expected]
    if extra:
        raise CheckpointError(f"{source}: unexpected tensor {extra[0]!r} not in the model the config builds")
    module.load_state_dict(dict(tensors), strict=True)


# --- policy checkpoints ------------------------------------------------------------------------
def versions() -> dict[str, str]:
    return {"act_bench": act_bench.__version__, **package_versions()}


def save_checkpoint(policy: Policy, stem: str | os.PathLike, step: int, extra: Mapping[str, Any] | None = None) -> Path:
    """Write {stem}.safetensors then {stem}.json (the JSON last: it names the weights' hash)."""
    stem = Path(stem)
    weights = stem.with_name(stem.name + ".safetensors")
    sha = save_tensors(weights, policy.state_dict())
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "policy": policy.name,
        "step": int(step), "config": policy.config, "normalization": policy.stats.to_dict(),
        "weights": weights.name, "sha256": sha, "versions": versions(),
    }
    meta.update(extra or {})
    json_path = stem.with_name(stem.name + ".json")
    write_json(json_path, meta)
    return json_path


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A run dir (best, else last), a checkpoints dir, a stem, or a .json/.safetensors file -> the JSON."""
    found = layout.find_checkpoint(path)
    if found is not None:
        return found
    if Path(path).is_dir():
        raise CheckpointError(f"{path}: no checkpoint found (expected {layout.RUN_CHECKPOINTS}/{layout.BEST}.json "
                              f"or {layout.LAST}.json)")
    raise CheckpointError(f"{layout.checkpoint_json(path)}: checkpoint not found")


def read_checkpoint_meta(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    json_path = resolve_checkpoint(path)
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = f"not a readable checkpoint JSON: {' '.join(str(exc).split())}"
        raise CheckpointError(str(damaged(json_path, why))) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: not an act-bench checkpoint (format field missing)")
    for key in ("policy", "config", "normalization", "weights"):
        if key not in meta:
            raise CheckpointError(f"{json_path}: checkpoint JSON lacks {key!r}")
    return json_path, meta


def load_policy(path: str | os.PathLike, device: str | torch.device = "cpu") -> Policy:
    """Build the policy its JSON describes and load its verified weights; returned in eval mode.
    The checkpoint's JSON is kept as policy.checkpoint_meta."""
    json_path, meta = read_checkpoint_meta(path)
    try:
        profile = Profile.from_dict(meta["config"])
    except ActBenchError as exc:
        raise CheckpointError(f"{json_path}: bad config: {exc}") from None
    if profile.policy != meta["policy"]:
        raise CheckpointError(f"{json_path}: policy {meta['policy']!r} does not match its config's policy {profile.policy!r}")
    try:
        stats = NormStats.from_dict(meta["normalization"])
    except CheckpointError as exc:
        raise CheckpointError(f"{json_path}: {exc}") from None
    weights = json_path.parent / meta["weights"]
    tensors = read_tensors(weights, meta.get("sha256"))
    with torch.random.fork_rng(devices=[]):  # building initialises weights: leave the caller's RNG alone
        try:
            policy = build_policy(profile, stats)
        except ValueError as exc:
            raise CheckpointError(f"{json_path}: {exc}") from None
    load_state_strict(policy, tensors, weights)
    policy.checkpoint_meta = meta
    return policy.to(device).eval()


# --- optimizer state -------------------------------------------------------------------------------
def optimizer_state_to_tensors(state_dict: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Flatten optimizer.state_dict() into {"state.{param}.{key}": tensor} plus JSON-able rest."""
    tensors, extra = {}, {}
    for pid, entry in state_dict["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"state.{pid}.{key}"] = value
            else:
                extra.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "state_extra": extra}


def optimizer_state_from_tensors(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    for pid, entry in meta.get("state_extra", {}).items():
        state.setdefault(int(pid), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}
