"""Denoising and inpainting of binary images with Ising or RBM priors (issue 6)."""
