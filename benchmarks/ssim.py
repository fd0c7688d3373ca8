"""SSIM (Wang, Bovik, Sheikh, Simoncelli 2004) of two same-sized images, on luma, with numpy.

The reference formulation: an 11-tap Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, the
statistics taken only where the window fits inside the image ("valid"), and the mean of the SSIM map.
Luma is Pillow's ``convert("L")`` (ITU-R 601: 0.299 R + 0.587 G + 0.114 B). 1.0 = identical.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

WINDOW = 11
SIGMA = 1.5
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def _gaussian_taps() -> np.ndarray:
    offsets = np.arange(WINDOW) - WINDOW // 2
    taps = np.exp(-(offsets ** 2) / (2 * SIGMA ** 2))
    return taps / taps.sum()


_TAPS = _gaussian_taps()


def _filter(values: np.ndarray) -> np.ndarray:
    """The Gaussian window over ``values`` (separable: rows, then columns), valid region only."""
    height, width = values.shape
    rows = np.zeros((height, width - WINDOW + 1))
    for offset, tap in enumerate(_TAPS):
        rows += tap * values[:, offset:offset + width - WINDOW + 1]
    both = np.zeros((height - WINDOW + 1, width - WINDOW + 1))
    for offset, tap in enumerate(_TAPS):
        both += tap * rows[offset:offset + height - WINDOW + 1, :]
    return both


def ssim(image: Image.Image, reference: Image.Image) -> float:
    """Mean SSIM of the luma of ``image`` against that of ``reference`` (same size)."""
    if image.size != reference.size:
        raise ValueError(f"sizes differ: {image.size} and {reference.size}")
    x = np.asarray(image.convert("L"), dtype=np.float64)
    y = np.asarray(reference.convert("L"), dtype=np.float64)
    mu_x, mu_y = _filter(x), _filter(y)
    var_x = _filter(x * x) - mu_x * mu_x
    var_y = _filter(y * y) - mu_y * mu_y
    covariance = _filter(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + C1) * (2 * covariance + C2)
    denominator = (mu_x * mu_x + mu_y * mu_y + C1) * (var_x + var_y + C2)
    return float((numerator / denominator).mean())
