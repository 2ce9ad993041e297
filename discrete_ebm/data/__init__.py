"""Data: synthetic Ising data, images, toy densities; the data directory."""

from .paths import data_dir

__all__ = ["data_dir"]
