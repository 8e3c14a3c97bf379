"""The DIL paper's Tables 1-7 (CVPR 2023), transcribed from the paper's text.

All four have one shape: ``TABLEn[(dataset, level)][method] = (psnr, ssim, gain)``, PSNR in
dB, ``gain`` the gain over ERM in dB exactly as the paper prints it (None for ERM and where
the paper prints none). ``tests/test_reproduce_tables.py`` checks every number against the
paper's text.

- Table 1: image denoising, RRDB trained on AWGN sigma 5, 10, 15, 20, tested on the unseen
  sigma 30, 40, 50; RGB. The paper prints ``26.02 (-0.6)`` for DIL_ss on Manga109 at sigma 30
  (26.02 - 26.62 is -0.60); it is kept as printed.
- Table 2: image deblurring, trained on Gaussian blur sigma 1, 2, 3, 4, tested on the unseen
  sigma 4.2 to 5.0; RGB. The paper's column is "DIL", without naming the variant.
- Table 3: hybrid distortions (blur, noise, JPEG), trained on severe, tested on mild and
  moderate (unseen) and severe (seen); Y channel; levels keyed by name; no gains printed. The
  text says "an average gain of 1.05 dB, and 0.66 dB on the mild-level, and moderate-level":
  the table's four sets average 1.18 and 0.66 dB (1.02 dB on mild without DIV2K).
- Table 6: backbones, trained as Table 1, tested at the unseen sigma 30; RGB; methods keyed
  ``"<backbone>/<method>"``; no gains printed. Its RRDB rows are Table 1's ERM and DIL_sf
  (DIL_sf on CBSD68 printed 30.28 here, 30.29 in Table 1).
- Tables 4, 5, 7 (cross distortion types): real sets, keyed ``(dataset, 0.0)`` (0.0: the set's own
  degraded inputs); Y channel; DND's numbers are from its online benchmark. Table 5's
  Real-ESRNet and BSRNet rows (other networks) are :data:`TABLE5_REFERENCES`. Table 7's rows are
  keyed ``"D1/ERM"`` .. ``"D2/DIL"``; its D1 rows are Table 5's ERM and DIL_sf.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "TABLE1",
    "TABLE1_METHODS",
    "TABLE1_DATASETS",
    "TABLE1_SIGMAS",
    "TABLE2",
    "TABLE2_DATASETS",
    "TABLE2_SIGMAS",
    "TABLE3",
    "TABLE3_DATASETS",
    "TABLE3_LEVELS",
    "TABLE6",
    "TABLE6_DATASETS",
    "TABLE6_METHODS",
    "TABLE4",
    "TABLE5",
    "TABLE5_REFERENCES",
    "TABLE7",
]

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

TABLE2_DATASETS: tuple[str, ...] = ("Set5", "Set14", "BSD100", "Urban100", "Manga109")
TABLE2_SIGMAS: tuple[float, ...] = (4.2, 4.4, 4.6, 4.8, 5.0)


def _rows(
    erm: list[tuple[float, float]], dil: list[tuple[float, float, float | None]]
) -> list[dict[str, tuple[float, float, Optional[float]]]]:
    return [{"ERM": (p, s, None), "DIL": d} for (p, s), d in zip(erm, dil)]


_T2 = {
    "Set5": _rows(
        [(29.31, 0.844), (26.55, 0.776), (24.43, 0.709), (22.96, 0.648), (22.00, 0.602)],
        [(29.58, 0.848, 0.27), (27.52, 0.802, 0.97), (25.66, 0.751, 1.23), (24.38, 0.708, 1.42), (23.46, 0.671, 1.46)],
    ),
    "Set14": _rows(
        [(27.22, 0.781), (24.93, 0.726), (23.16, 0.671), (21.89, 0.624), (20.88, 0.583)],
        [(27.24, 0.778, 0.02), (25.78, 0.746, 0.85), (24.35, 0.708, 1.19), (23.23, 0.672, 1.34), (22.37, 0.640, 1.49)],
    ),
    "BSD100": _rows(
        [(27.20, 0.784), (25.17, 0.732), (23.50, 0.682), (22.24, 0.639), (21.28, 0.602)],
        [(27.37, 0.781, 0.17), (26.16, 0.753, 0.99), (24.91, 0.719, 1.41), (23.86, 0.686, 1.62), (23.02, 0.658, 1.74)],
    ),
    "Urban100": _rows(
        [(24.95, 0.797), (22.41, 0.723), (20.59, 0.657), (19.33, 0.606), (18.40, 0.565)],
        [(24.97, 0.793, 0.02), (23.26, 0.743, 0.85), (21.76, 0.693, 1.17), (20.70, 0.651, 1.37), (19.92, 0.618, 1.52)],
    ),
    "Manga109": _rows(
        [(28.16, 0.865), (23.96, 0.791), (21.21, 0.713), (19.63, 0.652), (18.63, 0.606)],
        [(28.09, 0.867, -0.07), (25.41, 0.822, 1.45), (23.15, 0.771, 1.94), (21.69, 0.726, 2.06), (20.72, 0.691, 2.09)],
    ),
}
#: (dataset, blur sigma) -> {"ERM", "DIL"} -> (PSNR, SSIM, gain as printed); RGB
TABLE2: dict[tuple[str, float], dict[str, tuple[float, float, Optional[float]]]] = {
    (d, s): row for d in TABLE2_DATASETS for s, row in zip(TABLE2_SIGMAS, _T2[d])
}

TABLE3_DATASETS: tuple[str, ...] = ("BSD100", "Urban100", "Manga109", "DIV2K")
TABLE3_LEVELS: tuple[str, ...] = ("mild", "moderate", "severe")  # unseen, unseen, seen
_T3 = {  # dataset -> (ERM, DIL) per level: mild, moderate, severe
    "BSD100": [((25.31, 0.687), (26.37, 0.691)), ((24.62, 0.642), (25.23, 0.645)), ((25.27, 0.617), (25.22, 0.613))],
    "Urban100": [((23.97, 0.736), (25.00, 0.747)), ((22.51, 0.674), (23.13, 0.682)), ((23.38, 0.655), (23.20, 0.645))],
    "Manga109": [((27.43, 0.863), (28.41, 0.868)), ((24.85, 0.808), (25.30, 0.810)), ((26.50, 0.815), (26.19, 0.766))],
    "DIV2K": [((26.19, 0.766), (27.84, 0.785)), ((25.94, 0.744), (26.89, 0.756)), ((27.42, 0.742), (27.38, 0.737))],
}
#: (dataset, "mild" | "moderate" | "severe") -> {"ERM", "DIL"} -> (PSNR, SSIM, None); Y channel
TABLE3: dict[tuple[str, str], dict[str, tuple[float, float, Optional[float]]]] = {
    (d, lv): {"ERM": (*erm, None), "DIL": (*dil, None)}
    for d in TABLE3_DATASETS
    for lv, (erm, dil) in zip(TABLE3_LEVELS, _T3[d])
}

TABLE6_DATASETS: tuple[str, ...] = ("CBSD68", "Kodak24", "Urban100")
TABLE6_METHODS: tuple[str, ...] = ("RRDB/ERM", "RRDB/DIL", "SwinIR/ERM", "SwinIR/DIL")
_T6 = {  # method -> per dataset (PSNR, SSIM) at the unseen sigma 30
    "RRDB/ERM": [(24.90, 0.581), (25.12, 0.533), (25.46, 0.648)],
    "RRDB/DIL": [(30.28, 0.866), (31.39, 0.867), (30.93, 0.898)],
    "SwinIR/ERM": [(24.22, 0.551), (24.22, 0.493), (24.73, 0.618)],
    "SwinIR/DIL": [(29.08, 0.798), (29.71, 0.774), (29.72, 0.834)],
}
#: (dataset, 30) -> "<backbone>/<ERM|DIL>" -> (PSNR, SSIM, None); RGB
TABLE6: dict[tuple[str, int], dict[str, tuple[float, float, Optional[float]]]] = {
    (d, 30): {m: (*_T6[m][i], None) for m in TABLE6_METHODS} for i, d in enumerate(TABLE6_DATASETS)
}

# ---------------------------------------------------------------- Tables 4, 5 and 7 (cross distortion types)
# keyed (dataset, 0.0): 0.0 is the level code of a real set's own degraded inputs (evaluation.REAL_LEVEL)
# dataset -> ERM, DIL_sf, DIL_ps as (PSNR, SSIM, gain as printed); Y channel (DND: its online benchmark)
_T4: dict[str, list[tuple[float, float, Optional[float]]]] = {
    "SIDD": [(38.90, 0.9379, None), (39.96, 0.9410, 1.06), (39.92, 0.9385, 1.02)],
    "DND": [(38.67, 0.9549, None), (39.16, 0.9531, 0.49), (39.03, 0.9553, 0.36)],
    "Rain100L": [(27.61, 0.8577, None), (28.15, 0.8679, 0.54), (28.37, 0.8739, 0.76)],
    "Rain12": [(31.44, 0.8947, None), (32.43, 0.9163, 0.99), (33.07, 0.9266, 1.63)],
    "Rain800": [(23.36, 0.8199, None), (23.41, 0.8261, 0.05), (23.52, 0.8281, 0.16)],
}
#: Table 4: (dataset, 0.0) -> {"ERM", "DIL_sf", "DIL_ps"} -> (PSNR, SSIM, gain); real denoising and deraining
TABLE4: dict[tuple[str, float], dict[str, tuple[float, float, Optional[float]]]] = {
    (d, 0.0): dict(zip(("ERM", "DIL_sf", "DIL_ps"), rows)) for d, rows in _T4.items()
}
_T5: dict[str, list[tuple[float, float, Optional[float]]]] = {  # method -> (RealSR V3, DRealSR), Y channel
    "ERM": [(27.65, 0.8098, None), (29.73, 0.8628, None)],
    "DIL_sf": [(27.94, 0.8098, 0.29), (29.99, 0.8648, 0.26)],
    "DIL_ps": [(28.12, 0.8067, 0.47), (30.58, 0.8712, 0.85)],
}
#: Table 5: (dataset, 0.0) -> {"ERM", "DIL_sf", "DIL_ps"} -> (PSNR, SSIM, gain); x4 real-world SR, Y channel
TABLE5: dict[tuple[str, float], dict[str, tuple[float, float, Optional[float]]]] = {
    (d, 0.0): {m: _T5[m][i] for m in _T5} for i, d in enumerate(("RealSRV3", "DRealSR"))
}
#: Table 5's rows of other networks (trained by their authors on their own data): the paper's numbers only
TABLE5_REFERENCES: dict[str, dict[str, tuple[float, float]]] = {
    "Real-ESRNet": {"RealSRV3": (26.19, 0.7989), "DRealSR": (28.22, 0.8470)},
    "BSRNet": {"RealSRV3": (27.46, 0.8082), "DRealSR": (29.45, 0.8579)},
}
_T7 = {  # "<D1|D2>/<ERM|DIL>" -> (RealSR V3, DRealSR); D1 rows repeat Table 5's ERM and DIL_sf
    "D1/ERM": [(27.65, 0.8098), (29.73, 0.8628)],
    "D1/DIL": [(27.94, 0.8098), (29.99, 0.8648)],
    "D2/ERM": [(27.39, 0.8077), (29.41, 0.8591)],
    "D2/DIL": [(27.65, 0.8027), (29.85, 0.8677)],
}
#: Table 7: (dataset, 0.0) -> "<D1|D2>/<ERM|DIL>" -> (PSNR, SSIM, None); first- vs second-order training distortions
TABLE7: dict[tuple[str, float], dict[str, tuple[float, float, Optional[float]]]] = {
    (d, 0.0): {m: (*_T7[m][i], None) for m in _T7} for i, d in enumerate(("RealSRV3", "DRealSR"))
}
