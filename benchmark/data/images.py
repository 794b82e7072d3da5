"""Image preprocessing shared by the image datasets: scaling, grayscale, resizing.

Resizing is bilinear with antialiasing, as Pillow's ``Image.resize(..., BILINEAR)``
does it: pixel centres at half-integers, a triangle filter whose support widens by the
shrink factor when downscaling (so 84→32 or 105→32 averages, 28→32 interpolates), and
weights normalised per output pixel. Applied separably as two small matrices, so a
batch of 70,000 images takes a fraction of a second; values stay in [0, 1].
"""

from __future__ import annotations

import numpy as np

INTERPOLATION = "bilinear-antialias"
"""Name recorded for :func:`resize_images`' method."""
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R 601-2 luma weights (those of Pillow's ``convert("L")``), applied in float."""


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) matrix of antialiased bilinear resampling weights, rows sum to 1."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = filter_scale
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    for out in range(out_size):
        centre = (out + 0.5) * scale
        first = max(int(centre - support + 0.5), 0)
        last = min(int(centre + support + 0.5), in_size)
        taps = np.arange(first, last)
        weights = np.clip(1.0 - np.abs((taps - centre + 0.5) / filter_scale), 0.0, None)
        matrix[out, taps] = weights / weights.sum()
    return matrix


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize (n, H, W) images to (n, size, size) float32 with :func:`bilinear_matrix`."""
    images = np.asarray(images, dtype=np.float32)
    rows = bilinear_matrix(images.shape[1], size).astype(np.float32)
    cols = bilinear_matrix(images.shape[2], size).astype(np.float32)
    return np.ascontiguousarray(np.matmul(rows, images @ cols.T), dtype=np.float32)


def to_unit_gray(images: np.ndarray) -> np.ndarray:
    """uint8 images, (n, H, W) grayscale or (n, H, W, 3) RGB, as float32 gray in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 4:
        if images.shape[-1] != 3:
            raise ValueError(f"expected RGB images (n, H, W, 3), got shape {images.shape}")
        gray = images.astype(np.float32) @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)
    elif images.ndim == 3:
        gray = images.astype(np.float32)
    else:
        raise ValueError(f"expected images (n, H, W) or (n, H, W, 3), got shape {images.shape}")
    return gray / np.float32(255.0)


def preprocess_images(images: np.ndarray, size: int, chunk: int = 2048) -> np.ndarray:
    """uint8 images (gray or RGB) → float32 gray in [0, 1] → (n, size, size), in chunks."""
    images = np.asarray(images)
    out = np.empty((len(images), size, size), dtype=np.float32)
    for start in range(0, len(images), chunk):
        out[start : start + chunk] = resize_images(
            to_unit_gray(images[start : start + chunk]), size
        )
    return out
