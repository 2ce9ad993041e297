"""What a checkpoint belongs to: the model, objective, optimiser and data of a run.

``run_record`` describes a run in plain values (stored in every checkpoint ``fit`` writes);
``check_same_run`` refuses to resume a checkpoint whose record differs from this run's,
naming each difference:

- model: its class and the name and shape of every parameter and buffer;
- objective: its class and settings, ``objective.settings()`` if it defines one, else its
  public attributes that are numbers, strings, booleans, dtypes or short lists of them,
  and the class (and such settings) of attributes that are other objects (a sampler);
  settings that are ``None`` (unset, or chosen later from the data, e.g. ``n_chains``) are
  left out, and a setting is compared only when both sides have it;
- optimiser: its class;
- data: tensor rows by shape, dtype (the model's) and the SHA-256 of their bytes, with the
  batch size; a DataLoader by its dataset's class and length, its batch size and the
  fingerprint of the dataset's first batch in index order, read with every random stream
  (torch's, NumPy's, Python's and the dataset's ``generator``) seeded to 0 and restored
  afterwards, so per-item randomness such as dynamic binarisation gives the same
  fingerprint every time. An ``IterableDataset`` (reading it could consume a stream) is
  described by its class and batch size only.
"""

from __future__ import annotations

import hashlib
import inspect
import random
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

_SCALARS = (bool, int, float, str, type(None))


def class_name(obj) -> str:
    """The qualified name of ``obj``'s class (of ``obj`` itself for a function or class),
    without its module: a class that moved, or a script's class imported elsewhere, keeps
    its name."""
    target = obj if isinstance(obj, type) or inspect.isroutine(obj) else type(obj)
    return str(getattr(target, "__qualname__", type(target).__qualname__))


def tensor_fingerprint(x: torch.Tensor) -> dict:
    """``{"shape", "dtype", "sha256"}`` of a tensor (SHA-256 of its contiguous CPU bytes)."""
    t = x.detach().to("cpu").contiguous().reshape(-1)
    digest = hashlib.sha256(t.view(torch.uint8).numpy() if t.numel() else b"").hexdigest()
    return {"shape": list(x.shape), "dtype": str(x.dtype), "sha256": digest}


def _plain(v):
    """``v`` as a plain value if it is a setting (scalar, dtype, list of scalars); else ``...``."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, _SCALARS):
        return v
    if isinstance(v, torch.dtype):
        return str(v)
    if isinstance(v, list | tuple) and len(v) <= 64 and all(isinstance(e, _SCALARS) for e in v):
        return list(v)  # (a longer list is data, not a setting)
    return ...


def object_settings(obj, depth: int = 1) -> dict:
    """Flat ``name -> value`` settings of ``obj`` (module docstring); nested objects' names
    are prefixed with the attribute's name and a dot."""
    custom = getattr(obj, "settings", None)
    out = {}
    if callable(custom):
        for name, v in dict(custom()).items():
            plain = _plain(v)
            if plain is not None:
                out[str(name)] = class_name(v) if plain is ... else plain
        return out
    for name, v in sorted(getattr(obj, "__dict__", {}).items()):
        if name.startswith("_") or name == "metrics":
            continue
        plain = _plain(v)
        if plain is None:
            continue
        if plain is not ...:
            out[name] = plain
        elif isinstance(v, torch.Tensor | nn.Module | np.ndarray | dict | list | tuple):
            continue  # state, the model, or containers of them: not settings
        elif inspect.isroutine(v) or isinstance(v, type):
            out[name] = class_name(v)
        else:  # an object of its own, e.g. a sampler: its class and settings
            out[name] = class_name(v)
            if depth > 0:
                out.update({f"{name}.{k}": s for k, s in object_settings(v, depth - 1).items()})
    return out


def _loader_record(loader: torch.utils.data.DataLoader) -> dict:
    ds = loader.dataset
    try:
        length = len(ds)
    except TypeError:
        length = None
    record = {
        "kind": "loader",
        "dataset": class_name(ds),
        "length": length,
        "batch_size": loader.batch_size,
        "first_batch": None,
    }
    if isinstance(ds, torch.utils.data.IterableDataset):
        return record
    n = loader.batch_size or 1
    idx = list(range(n if length is None else min(n, length)))
    gen = getattr(ds, "generator", None)
    gen_state = gen.get_state() if isinstance(gen, torch.Generator) else None
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            np.random.seed(0)  # noqa: NPY002 (the legacy global stream a dataset may use)
            random.seed(0)
            if gen_state is not None:
                gen.manual_seed(0)
            getitems = getattr(ds, "__getitems__", None)
            items = getitems(idx) if callable(getitems) else [ds[i] for i in idx]
            batch = loader.collate_fn(items) if loader.collate_fn is not None else items
        if isinstance(batch, Sequence) and not isinstance(batch, torch.Tensor):
            batch = batch[0]
        if isinstance(batch, torch.Tensor):
            record["first_batch"] = tensor_fingerprint(batch)
    except Exception:  # a dataset not indexable by position: described without its content
        pass
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
        if gen_state is not None:
            gen.set_state(gen_state)
    return record


def data_record(batches) -> dict:
    """The data part of ``run_record`` for ``fit``'s ``Batches``."""
    if batches.loader is not None:
        return _loader_record(batches.loader)
    return {"kind": "rows", **tensor_fingerprint(batches.data), "batch_size": batches.batch_size}


def run_record(model: nn.Module, objective, optimizer: torch.optim.Optimizer, batches) -> dict:
    """What a checkpoint of this run belongs to (plain values; module docstring)."""
    return {
        "model": {
            "class": class_name(model),
            "tensors": {
                k: list(v.shape) if isinstance(v, torch.Tensor) else class_name(v)
                for k, v in model.state_dict().items()
            },
        },
        "objective": {"class": class_name(objective), "settings": object_settings(objective)},
        "optimizer": class_name(optimizer),
        "data": data_record(batches),
    }


def _describe_data(d: dict) -> str:
    if d["kind"] == "rows":
        return (
            f"data of shape {tuple(d['shape'])} ({d['dtype']}) with sha256 {d['sha256'][:12]}…"
            f" in batches of {d['batch_size']}"
        )
    first = d.get("first_batch")
    head = "" if first is None else f", first batch sha256 {first['sha256'][:12]}…"
    return (
        f"a DataLoader of {d['dataset']} (length {d['length']}, batch size {d['batch_size']}{head})"
    )


def _model_differences(saved: dict, now: dict) -> list[str]:
    if saved["class"] != now["class"]:
        return [f"model {saved['class']} there, {now['class']} here"]
    out = []
    a, b = saved["tensors"], now["tensors"]
    for name in sorted(a.keys() | b.keys()):
        there, here = (
            "absent"
            if name not in t
            else f"shape {tuple(t[name])}"
            if isinstance(t[name], list)
            else t[name]
            for t in (a, b)
        )
        if there != here:
            out.append(f"model tensor {name!r}: {there} there, {here} here")
    return out


def _setting_differences(saved: dict, now: dict) -> list[str]:
    if saved["class"] != now["class"]:
        return [f"objective {saved['class']} there, {now['class']} here"]
    a, b = saved["settings"], now["settings"]
    out = []
    for name in sorted(a.keys() & b.keys()):
        x, y = a[name], b[name]
        if x != y and not (x != x and y != y):  # NaN equals NaN here
            out.append(f"objective setting {name}={x!r} there, {name}={y!r} here")
    return out


def run_differences(saved: dict, now: dict) -> list[str]:
    """What differs between two ``run_record``s, one phrase each (empty: the same run)."""
    out = _model_differences(saved["model"], now["model"])
    out += _setting_differences(saved["objective"], now["objective"])
    if saved["optimizer"] != now["optimizer"]:
        out.append(f"optimiser {saved['optimizer']} there, {now['optimizer']} here")
    if saved["data"] != now["data"]:
        out.append(
            f"{_describe_data(saved['data'])} there, this run's is {_describe_data(now['data'])}"
        )
    return out


def check_same_run(saved: dict | None, now: dict, path) -> None:
    """``ValueError`` naming every difference if the checkpoint ``path`` (whose record is
    ``saved``) was written for another run than ``now``."""
    advice = "; pass resume=False to start afresh (overwriting it) or another checkpoint path"
    if not isinstance(saved, dict):
        raise ValueError(f"checkpoint {path} holds no record of the run it belongs to{advice}")
    diffs = run_differences(saved, now)
    if diffs:
        raise ValueError(
            f"checkpoint {path} was written for another run: {'; '.join(diffs)}{advice}"
        )
