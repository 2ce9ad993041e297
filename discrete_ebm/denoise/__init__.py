"""Denoising and inpainting of binary images with Ising or RBM priors.

Flip noise of rate ``p`` adds a spin field ``½ log((1 − p)/p)`` toward each observed pixel to
the prior, so the posterior is again an Ising model (or an RBM with shifted visible bias) and
is sampled with the library's samplers, one chain per image:

- ``posterior(prior, noisy, p, observed=None)``: the posterior model (batched fields);
- ``mpm``, ``anneal_map``, ``icm``: the estimators; ``denoise`` runs them in one call;
- ``estimate_flip_rate``: EM estimate of ``p`` when it is not known;
- ``lattice_prior``, ``fit_offset_ising``, ``fit_rbm``, ``pretrained_prior``: the priors;
  ``finetune_rbm_denoising`` tunes an RBM prior by log p(clean | noisy) on training images
  (objective ``PosteriorContrastiveDivergence``); ``build_priors`` rebuilds the shipped ones.
"""

from .estimators import Estimate, anneal_map, icm, mpm
from .finetune import PosteriorContrastiveDivergence
from .noise import estimate_flip_rate, expected_flip_fraction
from .pipeline import ESTIMATORS, RBM_MPM_CHAINS, denoise
from .posterior import FieldPosterior, flip_log_odds, observation_field, posterior, replicate
from .pretrain import build_prior, build_priors, pretrained_prior
from .priors import (
    finetune_rbm_denoising,
    fit_offset_ising,
    fit_rbm,
    lattice_prior,
    load_prior,
    prior_meta,
    save_prior,
)

__all__ = [
    "ESTIMATORS",
    "RBM_MPM_CHAINS",
    "Estimate",
    "FieldPosterior",
    "PosteriorContrastiveDivergence",
    "anneal_map",
    "build_prior",
    "build_priors",
    "denoise",
    "estimate_flip_rate",
    "expected_flip_fraction",
    "finetune_rbm_denoising",
    "fit_offset_ising",
    "fit_rbm",
    "flip_log_odds",
    "icm",
    "lattice_prior",
    "load_prior",
    "mpm",
    "observation_field",
    "posterior",
    "pretrained_prior",
    "prior_meta",
    "replicate",
    "save_prior",
]
