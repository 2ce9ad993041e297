"""Objectives by name: one table used by every command, recipe, benchmark and the graph package.

``make(name, model=None, **settings)`` builds the objective registered as ``name`` with the
given settings (the objective's own keyword arguments unless its entry says otherwise);
objectives that need the model being trained (those that own a sampler) take it as
``model``. ``register(name, factory)`` adds an entry (``factory(model=None, **settings)``);
``names()`` lists them. The graph package registers its objectives when it is imported.

Contrastive divergence (``cd``, ``pcd``) takes ``sampler=``: ``"block-gibbs"`` (default,
with an optional ``coloring``), ``"gibbs"``, ``"gwg"``, ``"pt"`` / ``"parallel-tempering"``
(PT-PCD with ``pcd``; the ladder by ``betas=[...]`` or ``n_temperatures=K`` with
``beta_min=``, and ``kernel=``, ``adapt=`` of ``ParallelTempering``), or a ``Sampler`` built
on the model (e.g. the graph package's edge sampler).
"""

from __future__ import annotations

from collections.abc import Callable

from ..models.base import EnergyModel
from ..samplers.base import Sampler
from ..samplers.block_gibbs import BlockGibbsSampler
from ..samplers.gibbs import GibbsSampler
from ..samplers.gwg import GWGSampler
from ..samplers.langevin import LangevinSampler
from ..samplers.parallel_tempering import ParallelTempering
from .base import Objective
from .contrastive_divergence import ContrastiveDivergence
from .dbm import DBMEnergyDiscrepancy, DBMPersistentCD
from .energy_discrepancy import BernoulliED, GaussianED, GridED
from .fused_dbm_pcd import FusedDBMPCD
from .fused_pcd import FusedPCD
from .pseudo_likelihood import PseudoLikelihood
from .rbm_pcd import RBMPersistentCD
from .score_matching import DenoisingScoreMatching, ScoreMatching, SlicedScoreMatching

_FACTORIES: dict[str, Callable[..., Objective]] = {}


def register(name: str, factory: Callable[..., Objective]) -> None:
    """Register ``factory(model=None, **settings) -> Objective`` under ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}")
    _FACTORIES[name] = factory


def names() -> list[str]:
    """The registered names, sorted."""
    return sorted(_FACTORIES)


def make(name: str, model: EnergyModel | None = None, **settings) -> Objective:
    """The objective registered as ``name``, built with ``settings`` (and ``model`` where
    it needs one). Unknown names raise ``ValueError`` listing the known ones."""
    if name not in _FACTORIES:
        raise ValueError(f"objective must be one of {', '.join(names())}, got {name!r}")
    return _FACTORIES[name](model=model, **settings)


def _needs(model, name: str) -> EnergyModel:
    if not isinstance(model, EnergyModel):
        raise ValueError(f"objective {name!r} needs model= (the EnergyModel being trained)")
    return model


def _plain(cls) -> Callable[..., Objective]:
    """A factory for an objective that does not need the model."""

    def factory(model=None, **settings) -> Objective:
        return cls(**settings)

    return factory


#: the names of the parallel-tempering sampler and the settings only it takes
_PT_NAMES = ("pt", "parallel-tempering")
_PT_KEYS = ("betas", "n_temperatures", "beta_min", "kernel", "adapt")


def _parallel_tempering(model: EnergyModel, coloring, pt: dict) -> ParallelTempering:
    """``ParallelTempering`` from the registry settings: ``betas`` (a ladder) or
    ``n_temperatures`` (a geometric ladder from ``beta_min``, default 10 from 0.1)."""
    pt = dict(pt)
    if "betas" in pt and "n_temperatures" in pt:
        raise ValueError("give betas (a ladder) or n_temperatures (a geometric ladder), not both")
    if "betas" in pt and "beta_min" in pt:
        raise ValueError("beta_min applies to n_temperatures, not to an explicit betas ladder")
    betas = pt.pop("betas", None)
    if betas is None:
        betas = pt.pop("n_temperatures", 10)
        if isinstance(betas, bool) or not isinstance(betas, int):
            raise TypeError(f"n_temperatures must be an int, got {type(betas).__name__}")
    elif isinstance(betas, int):
        raise TypeError("betas must be a sequence of inverse temperatures; use n_temperatures=K")
    return ParallelTempering(model, betas, coloring=coloring, **pt)


def _discrete_sampler(model: EnergyModel, kind, coloring, pt: dict | None = None) -> Sampler:
    """A ``Sampler`` instance as given (built on ``model``), or one built by name."""
    pt = pt or {}
    if pt and not (isinstance(kind, str) and kind in _PT_NAMES):
        raise ValueError(
            f"{', '.join(sorted(pt))} apply to sampler='pt' (parallel tempering) only, "
            f"not {kind if isinstance(kind, str) else type(kind).__name__!r}"
        )
    if isinstance(kind, str) and kind in _PT_NAMES:
        return _parallel_tempering(model, coloring, pt)
    if isinstance(kind, Sampler):
        if kind.model is not model:
            raise ValueError("sampler must be built on the model being trained (model=)")
        return kind
    if kind == "block-gibbs":
        return BlockGibbsSampler(model, coloring=coloring)
    if coloring is not None:
        raise ValueError(f"coloring applies to sampler='block-gibbs' only, not {kind!r}")
    if kind == "gibbs":
        return GibbsSampler(model)
    if kind == "gwg":
        return GWGSampler(model)
    raise ValueError(
        "sampler must be 'block-gibbs', 'gibbs', 'gwg' or a Sampler instance, or 'pt' "
        f"('parallel-tempering'), got {kind!r}"
    )


def _contrastive_divergence(persistent: bool, name: str):
    def factory(model=None, *, sampler: str = "block-gibbs", coloring=None, k: int = 1, **kw):
        pt = {key: kw.pop(key) for key in _PT_KEYS if key in kw}
        s = _discrete_sampler(_needs(model, name), sampler, coloring, pt)
        return ContrastiveDivergence(s, k=k, persistent=persistent, **kw)

    return factory


def _langevin_cd(model=None, *, step_size: float = 0.01, metropolis: bool = False, **kw):
    sampler = LangevinSampler(_needs(model, "langevin-cd"), step_size, metropolis=metropolis)
    return ContrastiveDivergence(sampler, **kw)


def _register_builtins() -> None:
    for name, cls in {
        "ed-bern": BernoulliED,
        "ed-grid": GridED,
        "pl": PseudoLikelihood,
        "rbm-pcd": RBMPersistentCD,
        "fused-pcd": FusedPCD,
        "dbm-pcd": DBMPersistentCD,
        "dbm-fused-pcd": FusedDBMPCD,
        "dbm-ed": DBMEnergyDiscrepancy,
        "gaussian-ed": GaussianED,
        "score-matching": ScoreMatching,
        "sliced-score-matching": SlicedScoreMatching,
        "denoising-score-matching": DenoisingScoreMatching,
    }.items():
        register(name, _plain(cls))
    register("cd", _contrastive_divergence(False, "cd"))
    register("pcd", _contrastive_divergence(True, "pcd"))
    register("langevin-cd", _langevin_cd)


_register_builtins()
