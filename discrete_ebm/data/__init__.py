"""Data: synthetic Ising data, binary images (MNIST, corruption), 2-D toy densities."""

from .corruption import flip_noise, mask_pixels, pixel_error, salt_and_pepper
from .images import BinaryImages, MNISTSplits, load_mnist
from .ising import (
    benchmark_rmse,
    lattice_benchmark,
    lattice_model,
    load_rows,
    neg_log_rmse,
    sample_ising,
    trainable_ising,
)
from .paths import DataNotFoundError, data_dir
from .toy import decode_gray, encode_gray, log_density, sample_toy, sample_toy_gray

__all__ = [
    "data_dir",
    "DataNotFoundError",
    "sample_ising",
    "lattice_benchmark",
    "lattice_model",
    "trainable_ising",
    "benchmark_rmse",
    "neg_log_rmse",
    "load_rows",
    "load_mnist",
    "BinaryImages",
    "MNISTSplits",
    "flip_noise",
    "salt_and_pepper",
    "mask_pixels",
    "pixel_error",
    "sample_toy",
    "sample_toy_gray",
    "log_density",
    "encode_gray",
    "decode_gray",
]
