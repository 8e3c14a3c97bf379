"""The DIL paper's Table 1 (CVPR 2023), transcribed from the paper's text.

Image denoising, RRDB trained on AWGN sigma 5, 10, 15, 20 and tested on the unseen sigma 30,
40, 50; PSNR (dB) / SSIM on RGB. ``TABLE1[(dataset, sigma)][method] = (psnr, ssim, gain)``,
where ``gain`` is the gain over ERM in dB exactly as the paper prints it (None for ERM). The
paper prints ``26.02 (-0.6)`` for DIL_ss on Manga109 at sigma 30; it is kept as printed.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["TABLE1", "TABLE1_METHODS", "TABLE1_DATASETS", "TABLE1_SIGMAS"]

TABLE1_METHODS: tuple[str, ...] = ("ERM", "DIL_sf", "DIL_pf", "DIL_ss", "DIL_ps")
TABLE1_DATASETS: tuple[str, ...] = ("CBSD68", "Kodak24", "McMaster", "Urban100", "Manga109")
TABLE1_SIGMAS: tuple[int, ...] = (30, 40, 50)

# (dataset, sigma) -> method -> (PSNR dB, SSIM, gain over ERM in dB as printed)
TABLE1: dict[tuple[str, int], dict[str, tuple[float, float, Optional[float]]]] = {
    ("CBSD68", 30): {
        "ERM": (24.90, 0.581, None),
        "DIL_sf": (30.29, 0.866, 5.39),
        "DIL_pf": (29.92, 0.858, 5.02),
        "DIL_ss": (27.48, 0.809, 2.58),
        "DIL_ps": (29.14, 0.802, 4.24),
    },
    ("CBSD68", 40): {
        "ERM": (21.12, 0.400, None),
        "DIL_sf": (28.35, 0.825, 7.23),
        "DIL_pf": (28.10, 0.812, 6.98),
        "DIL_ss": (25.90, 0.746, 4.78),
        "DIL_ps": (25.74, 0.629, 4.62),
    },
    ("CBSD68", 50): {
        "ERM": (18.96, 0.307, None),
        "DIL_sf": (26.64, 0.779, 7.68),
        "DIL_pf": (26.61, 0.766, 7.65),
        "DIL_ss": (24.63, 0.686, 5.67),
        "DIL_ps": (23.34, 0.501, 4.38),
    },
    ("Kodak24", 30): {
        "ERM": (25.12, 0.533, None),
        "DIL_sf": (31.39, 0.867, 6.27),
        "DIL_pf": (30.87, 0.858, 5.75),
        "DIL_ss": (27.92, 0.801, 2.80),
        "DIL_ps": (29.86, 0.782, 4.74),
    },
    ("Kodak24", 40): {
        "ERM": (21.22, 0.352, None),
        "DIL_sf": (29.49, 0.831, 8.27),
        "DIL_pf": (29.15, 0.817, 7.93),
        "DIL_ss": (26.46, 0.738, 5.24),
        "DIL_ps": (26.13, 0.588, 4.91),
    },
    ("Kodak24", 50): {
        "ERM": (19.02, 0.263, None),
        "DIL_sf": (27.76, 0.788, 8.74),
        "DIL_pf": (27.67, 0.775, 8.65),
        "DIL_ss": (25.24, 0.677, 6.22),
        "DIL_ps": (23.60, 0.457, 4.58),
    },
    ("McMaster", 30): {
        "ERM": (25.65, 0.569, None),
        "DIL_sf": (31.70, 0.873, 6.05),
        "DIL_pf": (31.04, 0.853, 5.39),
        "DIL_ss": (28.15, 0.794, 2.50),
        "DIL_ps": (30.09, 0.800, 4.44),
    },
    ("McMaster", 40): {
        "ERM": (21.73, 0.373, None),
        "DIL_sf": (29.81, 0.831, 8.08),
        "DIL_pf": (29.07, 0.802, 7.34),
        "DIL_ss": (26.59, 0.728, 4.86),
        "DIL_ps": (26.24, 0.605, 4.51),
    },
    ("McMaster", 50): {
        "ERM": (19.47, 0.278, None),
        "DIL_sf": (28.02, 0.783, 8.55),
        "DIL_pf": (27.31, 0.749, 7.84),
        "DIL_ss": (25.20, 0.664, 5.73),
        "DIL_ps": (23.60, 0.466, 4.13),
    },
    ("Urban100", 30): {
        "ERM": (25.46, 0.648, None),
        "DIL_sf": (30.93, 0.898, 5.47),
        "DIL_pf": (30.26, 0.884, 4.80),
        "DIL_ss": (26.95, 0.825, 1.49),
        "DIL_ps": (29.73, 0.841, 4.27),
    },
    ("Urban100", 40): {
        "ERM": (21.53, 0.479, None),
        "DIL_sf": (28.82, 0.866, 7.29),
        "DIL_pf": (28.32, 0.848, 6.79),
        "DIL_ss": (25.26, 0.767, 3.73),
        "DIL_ps": (26.25, 0.691, 4.72),
    },
    ("Urban100", 50): {
        "ERM": (19.28, 0.389, None),
        "DIL_sf": (26.88, 0.829, 7.60),
        "DIL_pf": (26.63, 0.811, 7.35),
        "DIL_ss": (23.85, 0.710, 4.57),
        "DIL_ps": (23.71, 0.575, 4.43),
    },
    ("Manga109", 30): {
        "ERM": (26.62, 0.653, None),
        "DIL_sf": (31.97, 0.910, 5.35),
        "DIL_pf": (31.14, 0.901, 4.52),
        "DIL_ss": (26.02, 0.833, -0.6),
        "DIL_ps": (31.05, 0.858, 4.43),
    },
    ("Manga109", 40): {
        "ERM": (22.34, 0.442, None),
        "DIL_sf": (29.02, 0.888, 6.68),
        "DIL_pf": (28.53, 0.875, 6.19),
        "DIL_ss": (24.31, 0.784, 1.97),
        "DIL_ps": (27.29, 0.704, 4.95),
    },
    ("Manga109", 50): {
        "ERM": (19.95, 0.342, None),
        "DIL_sf": (26.52, 0.860, 6.57),
        "DIL_pf": (26.34, 0.846, 6.39),
        "DIL_ss": (22.82, 0.734, 2.87),
        "DIL_ps": (24.47, 0.564, 4.52),
    },
}
