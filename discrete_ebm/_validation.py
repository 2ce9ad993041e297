"""Input checks shared by models, samplers and objectives.

Every check raises a ``TypeError`` (wrong type or dtype) or ``ValueError`` (wrong shape
or values) whose message names the argument and states what was expected.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

import numpy as np
import torch

_TRUSTED_VALUES = contextvars.ContextVar("discrete_ebm_trusted_values", default=False)


@contextlib.contextmanager
def trusted_values() -> Iterator[None]:
    """Skip the value checks of ``check_states`` (NaN, binary, finite: ``O(B·d)`` passes over
    the batch) inside this block; type, dtype and shape are still checked.

    For states a library routine built itself from states it already checked, e.g. energy
    discrepancy's ``B·M`` negatives (checked data XOR flip masks), whose value checks would
    cost more than a tenth of a training step.
    """
    token = _TRUSTED_VALUES.set(True)
    try:
        yield
    finally:
        _TRUSTED_VALUES.reset(token)


def _values_hidden(x: torch.Tensor) -> bool:
    """True for the wrapped tensors of ``torch.func`` transforms (``vmap``, ``grad``, ...),
    whose values cannot drive Python control flow: only shapes can be checked there."""
    functorch = getattr(torch._C, "_functorch", None)
    wrapped = getattr(functorch, "is_functorch_wrapped_tensor", None)
    return bool(wrapped(x)) if wrapped is not None else False


def as_tensor(x, *, name: str = "x", dtype=None, device=None) -> torch.Tensor:
    """Convert an array-like to a tensor (numpy arrays and nested lists are accepted)."""
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, np.ndarray | list | tuple | float | int):
        t = torch.as_tensor(np.asarray(x))
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if dtype is not None or device is not None:
        t = t.to(dtype=dtype or t.dtype, device=device)
    return t


def values_checked(x: torch.Tensor) -> bool:
    """Whether ``check_states`` reads the values of ``x`` here (not inside ``trusted_values()``
    nor inside a ``torch.func`` transform, and only for a non-empty tensor)."""
    return bool(x.numel()) and not _TRUSTED_VALUES.get() and not _values_hidden(x)


def check_states(
    x,
    dim: int | None,
    *,
    name: str = "x",
    binary: bool = True,
    allow_1d: bool = False,
    owner: Callable[[str], str] | None = None,
) -> torch.Tensor:
    """Check a batch of states of shape ``(B, dim)``.

    Binary states must be a floating-point tensor with values in {0, 1}; continuous
    states a finite floating-point tensor. Returns ``x`` (2-D) unchanged otherwise. Values
    are not checked inside ``trusted_values()`` nor inside ``torch.func`` transforms.
    ``owner(what)`` (``what`` is ``"dim"`` or ``"binary"``), when given, says where the
    expected width or domain comes from; it is appended to those two errors.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (B, {dim}), got {type(x).__name__}"
        )
    if not x.is_floating_point():
        hint = " with values 0./1. (use x.float())" if binary else " (use x.float())"
        raise TypeError(f"{name} must be a floating-point tensor{hint}, got dtype {x.dtype}")
    if x.dim() == 1 and allow_1d:
        x = x.unsqueeze(0)
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (B, {dim}), got shape {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(
            f"{name} must have width {dim} (shape (B, {dim})), got shape {tuple(x.shape)}"
            + (f": {owner('dim')}" if owner is not None else "")
        )
    if values_checked(x):
        if binary:
            _check_binary_values(x, name, owner)
        elif not torch.isfinite(x).all():
            if torch.isnan(x).any():
                raise ValueError(f"{name} contains NaN")
            raise ValueError(f"{name} contains infinite values")
    return x


def _check_binary_values(x: torch.Tensor, name: str, owner=None) -> None:
    """Every value 0. or 1. (see ``binary_values``)."""
    verdict = binary_values(x)
    if verdict is None:
        raise ValueError(f"{name} contains NaN")
    if not verdict:
        raise ValueError(
            f"{name} must be binary: every value 0. or 1. (got other values)"
            + (f": {owner('binary')}" if owner is not None else "")
        )


def binary_values(x: torch.Tensor) -> bool | None:
    """``True`` if every value of ``x`` is 0. or 1., ``False`` if not, ``None`` if ``x`` holds
    a NaN. Two passes: ``aminmax`` bounds the values to [0, 1] (a NaN propagates into it),
    and inside [0, 1] only 0 and 1 have a zero fractional part (the fractional parts are
    >= 0 there, so their sum is 0 iff all are)."""
    x = x.detach() if x.requires_grad else x
    lo, hi = torch.aminmax(x)
    if bool(lo.isnan() | hi.isnan()):
        return None
    return bool(lo >= 0 and hi <= 1) and _fraction_sum(x) == 0


def check_rows(x, name: str = "x") -> None:
    """A batch must have at least one row (an empty batch makes every mean NaN)."""
    if isinstance(x, torch.Tensor) and x.dim() >= 1 and x.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {tuple(x.shape)}")


def first_non_finite(named) -> str | None:
    """Name of the first tensor with a NaN or infinite entry in ``named`` (pairs ``(name,
    tensor or None)``; ``None`` and empty tensors skipped), or ``None``.

    Fast path: one float64 sum per tensor and a single synchronisation (a NaN or ±inf makes
    the total non-finite; no full-size temporary). Only if the total is not finite are the
    tensors checked one by one (a sum that overflowed on finite values passes there).
    """
    tensors = [(n, t) for n, t in named if t is not None and t.numel()]
    if not tensors:
        return None
    device = tensors[0][1].device
    with torch.no_grad():
        sums = [t.sum(dtype=torch.float64).to(device) for _, t in tensors]
        if bool(torch.isfinite(torch.stack(sums).sum())):
            return None
        return next((n for n, t in tensors if not bool(torch.isfinite(t).all())), None)


def check_finite_parameters(module: torch.nn.Module, user: str) -> None:
    """Every floating parameter and buffer of ``module`` finite, else a ``ValueError``
    naming the first bad one (``first_non_finite``)."""
    named = {
        f"{kind} {n!r}": t
        for kind, group in (
            ("parameter", module.named_parameters()),
            ("buffer", module.named_buffers()),
        )
        for n, t in group
        if t.is_floating_point() and t.layout == torch.strided
    }
    bad = first_non_finite(named.items())
    if bad is None:
        return
    what = "NaN" if bool(torch.isnan(named[bad]).any()) else "infinite values"
    raise ValueError(
        f"{type(module).__name__} {bad} contains {what}; {user} needs finite "
        "parameters (a training run that diverged? reload the last good checkpoint)"
    )


def _fraction_sum(x: torch.Tensor, block: int = 1 << 16) -> float:
    """``Σ frac(x)``, in blocks of ``block`` values that stay in cache (a contiguous CPU
    tensor of many rows is read once, without a full-size temporary)."""
    if x.device.type != "cpu" or not x.is_contiguous() or x.numel() <= block:
        return float(x.frac().sum())
    flat, buf, total = x.reshape(-1), torch.empty(block, dtype=x.dtype), 0.0
    for a in range(0, flat.numel(), block):
        part = flat[a : a + block]
        total += float(torch.frac(part, out=buf[: part.numel()]).sum())
    return total


def check_mask(mask, shape: tuple[int, int], *, name: str = "clamp") -> torch.Tensor:
    """Check a boolean mask of shape ``(d,)`` or ``(n, d)``; returns it broadcast to ``shape``."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"{name} must be a boolean torch.Tensor of shape ({shape[1]},) or {shape}")
    if mask.shape not in ((shape[1],), tuple(shape)):
        raise ValueError(
            f"{name} must have shape ({shape[1]},) or {tuple(shape)}, got {tuple(mask.shape)}"
        )
    return mask.expand(shape)


def check_positive_int(value, name: str, *, allow_zero: bool = False) -> int:
    """Check an integer count (``> 0``, or ``>= 0`` with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_probability(value, name: str, *, open_interval: bool = True) -> float:
    """Check a probability in (0, 1) (or [0, 1] with ``open_interval=False``)."""
    v = float(value)
    ok = 0.0 < v < 1.0 if open_interval else 0.0 <= v <= 1.0
    if not ok:
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return v
