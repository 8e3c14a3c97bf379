"""Camera-pipeline (ISP) real-noise synthesis in the manner of CBDNet.

Reference: S. Guo, Z. Yan, K. Zhang, W. Zuo, L. Zhang, "Toward Convolutional Blind
Denoising of Real Photographs", CVPR 2019 (the DIL paper's ref [19]) and the authors'
Python ISP port (github.com/GuoShi28/CBDNet, ``SomeISP_operator_python/ISP_implement.py``).
For a clean sRGB batch the pipeline is, per sample:

1. invert the camera response: ``L = x ** gamma`` (linear irradiance);
2. invert colour correction: ``cam = clip(M_rgb2cam @ L, 0, 1)``;
3. mosaic with the colour filter array (one of ``RGGB``, ``BGGR``, ``GRBG``, ``GBRG``) and
   invert white balance (red and blue sites times ``f_r``, ``f_b`` ~ U[0.75, 1]);
4. add signal-dependent noise ``n ~ N(0, sigma_s^2 * raw + sigma_c^2)`` (CBDNet's
   heteroscedastic Gaussian approximation of Poisson-Gaussian noise) and clip to ``[0, 1]``;
5. re-apply white balance, demosaic (bilinear), colour correction (``M_rgb2cam^-1``),
   clip, and the camera response ``x ** (1 / gamma)``.

What is approximated, honestly:

* CBDNet samples one of 201 measured camera response functions (the DoRF database); we do
  not ship those curves and use the power-law family ``f(L) = L ** (1 / gamma)`` with gamma
  uniform in ``gamma_range`` (default ``(1.8, 2.6)``), the law the authors' Python port
  fits to each DoRF curve.
* Colour correction follows the port: ``M_xyz2cam`` is a random convex combination of four
  camera matrices (:data:`XYZ2CAM`, from the port), combined with the standard linear-sRGB
  (D65) to XYZ matrix, rows normalised so that white maps to white (as in Brooks et al.,
  "Unprocessing Images for Learned Raw Denoising", CVPR 2019).
* Demosaicing is bilinear (a 3x3 convolution) instead of the port's Malvar 2004 filter.
* Noise levels: ``sigma_s`` uniform in ``[0, 0.16]`` and ``sigma_c`` in ``[0, 0.06]`` (CBDNet
  paper, Sec. 3.1); the port draws them log-uniformly instead (pass other ranges if wanted).
* No JPEG stage (CBDNet optionally adds one; compose with :class:`~dil_optim.augment.JPEG`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Degradation, ParamRange, RangeLike, pad_reflect, rand, randn

__all__ = ["CFA_PATTERNS", "XYZ2CAM", "RGB2XYZ", "CameraNoise", "cfa_masks", "mosaic", "demosaic_bilinear"]

CFA_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")

# Four cameras' XYZ -> camera matrices, row-major (values from CBDNet's Python ISP port).
XYZ2CAM = (
    (1.0234, -0.2969, -0.2266, -0.5625, 1.6328, -0.0469, -0.0703, 0.2188, 0.6406),
    (0.4913, -0.0541, -0.0202, -0.6130, 1.3513, 0.2906, -0.1564, 0.2151, 0.7183),
    (0.8380, -0.2630, -0.0639, -0.2887, 1.0725, 0.2496, -0.0627, 0.1427, 0.5438),
    (0.6596, -0.2079, -0.0562, -0.4782, 1.3016, 0.1933, -0.0970, 0.1581, 0.5181),
)
# Linear sRGB (D65) -> CIE XYZ, IEC 61966-2-1.
RGB2XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)


def _check_pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or pattern.upper() not in CFA_PATTERNS:
        raise ValueError(f"CFA pattern must be one of {CFA_PATTERNS}, got {pattern!r}")
    return pattern.upper()


def cfa_masks(
    pattern: str, height: int, width: int, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Tensor:
    """``(3, H, W)`` 0/1 masks: ``masks[c, i, j] == 1`` where the CFA samples channel ``c`` (R, G, B).

    The pattern names the 2x2 tile in reading order: ``"RGGB"`` has R at (0, 0), G at (0, 1)
    and (1, 0), B at (1, 1).
    """
    pattern = _check_pattern(pattern)
    masks = torch.zeros(3, height, width, device=device, dtype=dtype)
    for pos, ch in enumerate(pattern):
        masks["RGB".index(ch), pos // 2 :: 2, pos % 2 :: 2] = 1
    return masks


def mosaic(x: Tensor, pattern: str) -> Tensor:
    """Sample an ``(N, 3, H, W)`` image through a Bayer CFA: returns the ``(N, 1, H, W)`` raw plane."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"mosaic needs an (N, 3, H, W) tensor, got shape {tuple(x.shape)}")
    masks = cfa_masks(pattern, x.shape[-2], x.shape[-1], device=x.device, dtype=x.dtype)
    return (x * masks).sum(dim=1, keepdim=True)


def demosaic_bilinear(raw: Tensor, pattern: str) -> Tensor:
    """Bilinear demosaicing of an ``(N, 1, H, W)`` Bayer plane into ``(N, 3, H, W)``.

    Each channel keeps its samples and fills the other sites with the mean of the nearest
    samples (2 or 4 neighbours), i.e. convolution of the masked plane with
    ``[[1,2,1],[2,4,2],[1,2,1]] / 4`` (R, B) or ``[[0,1,0],[1,4,1],[0,1,0]] / 4`` (G).
    Reflect padding keeps the CFA phase at the borders. Exact for images that are linear
    in the row and column index, away from the border.
    """
    if raw.dim() != 4 or raw.shape[1] != 1:
        raise ValueError(f"demosaic needs an (N, 1, H, W) Bayer plane, got shape {tuple(raw.shape)}")
    masks = cfa_masks(pattern, raw.shape[-2], raw.shape[-1], device=raw.device, dtype=raw.dtype)
    return _demosaic(raw, masks, _demosaic_weight(raw.device, raw.dtype))


def _demosaic_weight(device: torch.device, dtype: torch.dtype) -> Tensor:
    k_rb = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4
    k_g = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4
    return torch.stack([k_rb, k_g, k_rb]).unsqueeze(1).to(device=device, dtype=dtype)  # (3, 1, 3, 3)


def _demosaic(raw: Tensor, masks: Tensor, weight: Tensor) -> Tensor:
    sparse = raw * masks.unsqueeze(0)  # (N, 3, H, W)
    return F.conv2d(pad_reflect(sparse, 1), weight, groups=3)


def _rgb2cam(weights: Tensor, xyz2cam: Tensor | None = None, rgb2xyz: Tensor | None = None) -> Tensor:
    """``(N, 3, 3)`` linear-sRGB -> camera matrices for ``(N, 4)`` convex weights."""
    if xyz2cam is None:
        xyz2cam = torch.tensor(XYZ2CAM, dtype=weights.dtype, device=weights.device).view(4, 3, 3)
    if rgb2xyz is None:
        rgb2xyz = torch.tensor(RGB2XYZ, dtype=weights.dtype, device=weights.device)
    m = torch.einsum("nk,kij->nij", weights, xyz2cam) @ rgb2xyz
    return m / m.sum(dim=2, keepdim=True)


def _inv3(m: Tensor) -> Tensor:
    """Inverse of ``(N, 3, 3)`` matrices by the adjugate (elementwise: no solver, no sync)."""
    a, b, c = m[:, 0], m[:, 1], m[:, 2]
    adj_t = torch.stack([torch.cross(b, c, dim=1), torch.cross(c, a, dim=1), torch.cross(a, b, dim=1)], dim=2)
    det = (a * torch.cross(b, c, dim=1)).sum(dim=1).view(-1, 1, 1)
    return adj_t / det


class CameraNoise(Degradation):
    """CBDNet-style realistic camera noise for one CFA pattern (see the module docstring).

    Args:
        pattern: ``"RGGB"``, ``"BGGR"``, ``"GRBG"``, ``"GBRG"``, or ``None`` for no mosaic
            (CBDNet's fifth option: noise added to the full-colour camera image).
        sigma_s: signal-dependent noise level, fixed or a per-sample range (default ``(0, 0.16)``).
        sigma_c: signal-independent noise level (default ``(0, 0.06)``).
        gamma_range: camera-response exponent range (``f(L) = L ** (1 / gamma)``).
        wb_range: inverse white-balance gain range for the red and blue sites.
        name: label (default ``isp_<pattern>``).

    Input ``(N, 3, H, W)`` float in ``[0, 1]`` (sRGB); output the same shape, dtype and device.
    """

    channels = (3,)

    def __init__(
        self,
        pattern: str | None = "RGGB",
        *,
        sigma_s: RangeLike = (0.0, 0.16),
        sigma_c: RangeLike = (0.0, 0.06),
        gamma_range: RangeLike = (1.8, 2.6),
        wb_range: RangeLike = (0.75, 1.0),
        name: str | None = None,
    ) -> None:
        self.pattern = None if pattern is None else _check_pattern(pattern)
        self.sigma_s = ParamRange(sigma_s, "sigma_s", min_value=0.0)
        self.sigma_c = ParamRange(sigma_c, "sigma_c", min_value=0.0)
        self.gamma = ParamRange(gamma_range, "gamma_range", min_value=0.1, max_value=10.0)
        self.wb = ParamRange(wb_range, "wb_range", min_value=0.01, max_value=100.0)
        self.name = name if name is not None else f"isp_{self.pattern or 'nocfa'}"

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n, _, h, w = x.shape
        dev = x.device
        dt = torch.float64 if x.dtype == torch.float64 else torch.float32
        gamma = self.gamma.sample(n, generator, dev, dt).view(n, 1, 1, 1)
        consts = self._constants(dev, dt, h, w)
        mix = rand((n, 4), generator, dev, dt)
        m = _rgb2cam(mix / mix.sum(dim=1, keepdim=True), consts["xyz2cam"], consts["rgb2xyz"])
        fr = self.wb.sample(n, generator, dev, dt).view(n, 1, 1, 1)
        fb = self.wb.sample(n, generator, dev, dt).view(n, 1, 1, 1)
        s_s = self.sigma_s.sample(n, generator, dev, dt).view(n, 1, 1, 1)
        s_c = self.sigma_c.sample(n, generator, dev, dt).view(n, 1, 1, 1)

        lin = x.to(dt).clamp(0, 1) ** gamma
        cam = torch.einsum("nij,njhw->nihw", m, lin).clamp(0, 1)
        gains = torch.cat([fr, torch.ones_like(fr), fb], dim=1)  # (n, 3, 1, 1): inverse WB per channel
        if self.pattern is None:
            raw = cam * gains
        else:
            masks = consts["masks"]
            raw = (cam * gains * masks).sum(dim=1, keepdim=True)
        std = torch.sqrt(s_s**2 * raw + s_c**2)
        noisy = (raw + std * randn(raw.shape, generator, dev, dt)).clamp(0, 1)
        if self.pattern is None:
            cam_n = noisy / gains
        else:
            wb_plane = (masks / gains).sum(dim=1, keepdim=True)  # 1/f_r on R sites, 1 on G, 1/f_b on B
            cam_n = _demosaic((noisy * wb_plane).clamp(0, 1), masks, consts["demosaic"])
        rgb = torch.einsum("nij,njhw->nihw", _inv3(m), cam_n.clamp(0, 1)).clamp(0, 1)
        return (rgb ** (1.0 / gamma)).to(x.dtype)

    def _constants(self, device: torch.device, dtype: torch.dtype, h: int, w: int) -> dict[str, Tensor]:
        """Colour matrices and CFA masks on ``device`` (kept for the last few sizes)."""
        key = (str(device), dtype, h, w)
        cache: dict = self.__dict__.setdefault("_const_cache", {})
        if key not in cache:
            if len(cache) >= 8:
                cache.clear()
            cache[key] = {
                "xyz2cam": torch.tensor(XYZ2CAM, dtype=dtype, device=device).view(4, 3, 3),
                "rgb2xyz": torch.tensor(RGB2XYZ, dtype=dtype, device=device),
                "masks": cfa_masks(self.pattern or "RGGB", h, w, device=device, dtype=dtype),
                "demosaic": _demosaic_weight(device, dtype),
            }
        return cache[key]

    def _params_repr(self) -> str:
        return (
            f"pattern={self.pattern!r}, sigma_s={self.sigma_s!r}, sigma_c={self.sigma_c!r}, "
            f"gamma_range={self.gamma!r}, wb_range={self.wb!r}"
        )
