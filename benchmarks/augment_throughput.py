"""Throughput of dil_optim.augment against straightforward per-image NumPy / SciPy / Pillow code.

For every distortion family this times the batched torch path (one call on a batch of
patches) and a per-image reference written here in the style of the usual OpenCV/NumPy
data pipelines (a Python loop over images; SciPy's C filters stand in for OpenCV, which is
not installed; Pillow's libjpeg for JPEG). Both paths draw their own random parameters from
the same ranges; the mean PSNR of each path against the clean patches is printed as a check
that they do the same amount of damage.

It then measures what generating one quick-profile step's confounders costs relative to that
step's training time: the quick profile's 6-layer, 32-channel DnCNN on 48x48 patches, batch 8
per confounder, one forward/backward/Adam update per confounder (the compute of a DIL_sf
step), against ``paper_confounders(task)`` on the step's clean batch. SR tasks use 192x192
clean patches (x4 to 48x48) and the same net with a x4 pixel-shuffle tail.

    python benchmarks/augment_throughput.py                 # 64 patches of 64x64, 1 thread
    python benchmarks/augment_throughput.py --batch 256 --threads 2 --json out.json
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage, special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dil_optim.augment as A  # noqa: E402
from dil_optim.augment.hybrid import _QUALITY_STEPS, level_triples  # noqa: E402
from dil_optim.augment.isp import RGB2XYZ, XYZ2CAM  # noqa: E402

# ----------------------------------------------------------------------------- references
RNG = np.random.default_rng(0)


def ref_awgn(img: np.ndarray, sigma: float = 15.0) -> np.ndarray:
    return np.clip(img + RNG.standard_normal(img.shape).astype(np.float32) * (sigma / 255.0), 0, 1)


def ref_poisson(img: np.ndarray, scale_hi: float = 3.0) -> np.ndarray:
    scale = RNG.uniform(0.05, scale_hi)
    q = np.clip(np.round(img * 255.0), 0, 255) / 255.0
    vals = 2 ** np.ceil(np.log2(len(np.unique(q))))
    noisy = RNG.poisson(q * vals) / vals
    return np.clip(img + (noisy - q).astype(np.float32) * scale, 0, 1)


def ref_blur(img: np.ndarray, sigma: float | None = None) -> np.ndarray:
    s = RNG.uniform(1.0, 4.0) if sigma is None else sigma
    return ndimage.gaussian_filter(img, sigma=(s, s, 0), mode="mirror", truncate=4.0)


def np_kernel(kind: str, size: int, sx: float, sy: float, theta: float, beta: float = 1.0) -> np.ndarray:
    r = size // 2
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    inv = np.linalg.inv(rot @ np.diag([sx * sx, sy * sy]) @ rot.T)
    q = inv[0, 0] * xx * xx + 2 * inv[0, 1] * xx * yy + inv[1, 1] * yy * yy
    k = {"gaussian": np.exp(-0.5 * q), "generalized": np.exp(-0.5 * q**beta), "plateau": 1 / (1 + q**beta)}[kind]
    return (k / k.sum()).astype(np.float32)


def np_sinc(omega: float, size: int) -> np.ndarray:
    r = size // 2
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    rad = np.hypot(xx, yy)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = omega * special.j1(omega * rad) / (2 * np.pi * rad)
    k[r, r] = omega**2 / (4 * np.pi)
    return (k / k.sum()).astype(np.float32)


def conv_each_channel(img: np.ndarray, k: np.ndarray) -> np.ndarray:  # cv2.filter2D analogue
    return np.stack([ndimage.convolve(img[..., c], k, mode="mirror") for c in range(img.shape[2])], axis=2)


def ref_aniso(img: np.ndarray) -> np.ndarray:
    sx, sy = RNG.uniform(0.5, 3.0, size=2)
    k = np_kernel("gaussian", 2 * int(4 * max(sx, sy) + 0.5) + 1, sx, sy, RNG.uniform(-np.pi, np.pi))
    return conv_each_channel(img, k)


def ref_jpeg(img: np.ndarray, quality: int | None = None) -> np.ndarray:
    q = int(round(RNG.uniform(30, 95))) if quality is None else quality
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.round(img * 255), 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32) / 255.0


_TRIPLES = level_triples(18, 20).numpy()


def ref_hybrid(img: np.ndarray) -> np.ndarray:
    lb, ln, lj = _TRIPLES[RNG.integers(len(_TRIPLES))]
    sigma = 0.5 * (lb - 1) + 0.5 * RNG.uniform()
    k = np.exp(-0.5 * (np.arange(-10, 11) / max(sigma, 1e-6)) ** 2)
    k = (k / k.sum()).astype(np.float32)
    out = ndimage.correlate1d(ndimage.correlate1d(img, k, axis=0, mode="mirror"), k, axis=1, mode="mirror")
    out = ref_awgn(np.clip(out, 0, 1), 5.0 * (ln - 1) + 5.0 * RNG.uniform())
    q = _QUALITY_STEPS[lj - 1] + (_QUALITY_STEPS[lj] - _QUALITY_STEPS[lj - 1]) * RNG.uniform()
    return ref_jpeg(out, int(round(q)))


def resize(img: np.ndarray, h: int, w: int) -> np.ndarray:  # cv2.resize analogue, random mode, no antialias
    h, w = max(1, h), max(1, w)
    mode = RNG.integers(3)
    if mode == 0:  # area
        return np.stack([np.asarray(Image.fromarray(img[..., c], mode="F").resize((w, h), Image.BOX))
                         for c in range(img.shape[2])], axis=2)
    ys = (np.arange(h) + 0.5) * img.shape[0] / h - 0.5  # half-pixel centres, as align_corners=False
    xs = (np.arange(w) + 0.5) * img.shape[1] / w - 0.5
    grid = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([ndimage.map_coordinates(img[..., c], grid, order=1 if mode == 1 else 3, mode="nearest")
                     for c in range(img.shape[2])], axis=2)


def ref_random_kernel(sigma_hi: float) -> np.ndarray:
    size = int(RNG.choice(np.arange(7, 22, 2)))
    if RNG.uniform() < 0.1:
        return np_sinc(RNG.uniform(np.pi / 3 if size < 13 else np.pi / 5, np.pi), size)
    kind = RNG.choice(6, p=[0.45, 0.25, 0.12, 0.03, 0.12, 0.03])
    sx = RNG.uniform(0.2, sigma_hi)
    sy, th = (sx, 0.0) if kind % 2 == 0 else (RNG.uniform(0.2, sigma_hi), RNG.uniform(-np.pi, np.pi))
    fam = ("gaussian", "generalized", "plateau")[kind // 2]
    lo, hi = (0.5, 4.0) if fam == "generalized" else (1.0, 2.0)
    beta = RNG.uniform(lo, 1) if RNG.uniform() < 0.5 else RNG.uniform(1, hi)
    return np_kernel(fam, size, sx, sy, th, beta)


def ref_noise(img: np.ndarray, sig_hi: float, scale_hi: float) -> np.ndarray:
    gray = RNG.uniform() < 0.4
    if RNG.uniform() < 0.5:
        sigma = RNG.uniform(1, sig_hi) / 255.0
        shape = img.shape[:2] + (1,) if gray else img.shape
        return np.clip(img + RNG.standard_normal(shape).astype(np.float32) * sigma, 0, 1)
    if not gray:
        return ref_poisson(img, scale_hi)
    luma = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(img + (ref_poisson(luma[..., None], scale_hi) - luma[..., None]), 0, 1)


def ref_realesrgan(img: np.ndarray, order: int = 1, scale: int = 4) -> np.ndarray:
    h, w = img.shape[:2]
    out = conv_each_channel(img, ref_random_kernel(3.0))
    f = [RNG.uniform(1, 1.5), RNG.uniform(0.15, 1), 1.0][RNG.choice(3, p=[0.2, 0.7, 0.1])]
    out = ref_jpeg(ref_noise(resize(out, int(h * f), int(w * f)), 30, 3))
    if order == 1:
        return np.clip(np.round(resize(out, h // scale, w // scale) * 255), 0, 255) / 255
    if RNG.uniform() < 0.8:
        out = conv_each_channel(out, ref_random_kernel(1.5))
    f = [RNG.uniform(1, 1.2), RNG.uniform(0.3, 1), 1.0][RNG.choice(3, p=[0.3, 0.4, 0.3])]
    out = ref_noise(resize(out, int(h / scale * f), int(w / scale * f)), 25, 2.5)
    sinc = np_sinc(RNG.uniform(np.pi / 3, np.pi), int(RNG.choice(np.arange(7, 22, 2))))
    if RNG.uniform() < 0.5:
        out = ref_jpeg(conv_each_channel(resize(out, h // scale, w // scale), sinc))
    else:
        out = conv_each_channel(resize(ref_jpeg(out), h // scale, w // scale), sinc)
    return np.clip(np.round(out * 255), 0, 255) / 255


_M_XYZ2CAM = np.array(XYZ2CAM).reshape(4, 3, 3)
_M_RGB2XYZ = np.array(RGB2XYZ)
_K_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4.0
_K_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 4.0


def ref_isp(img: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    gamma = RNG.uniform(1.8, 2.6)
    wmix = RNG.uniform(size=4)
    m = np.tensordot(wmix / wmix.sum(), _M_XYZ2CAM, axes=1) @ _M_RGB2XYZ
    m = m / m.sum(axis=1, keepdims=True)
    cam = np.clip((img.astype(np.float64) ** gamma) @ m.T, 0, 1)
    h, w = img.shape[:2]
    gains = np.array([RNG.uniform(0.75, 1), 1.0, RNG.uniform(0.75, 1)])
    masks = np.zeros((h, w, 3))
    for pos, ch in enumerate(pattern):
        masks[pos // 2::2, pos % 2::2, "RGB".index(ch)] = 1
    raw = (cam * gains * masks).sum(axis=2)
    s_s, s_c = RNG.uniform(0, 0.16), RNG.uniform(0, 0.06)
    raw = np.clip(raw + np.sqrt(s_s**2 * raw + s_c**2) * RNG.standard_normal(raw.shape), 0, 1)
    raw = np.clip(raw * (masks / gains).sum(axis=2), 0, 1)
    dem = np.stack([ndimage.convolve(raw * masks[..., c], _K_G if c == 1 else _K_RB, mode="mirror")
                    for c in range(3)], axis=2)
    rgb = np.clip(np.clip(dem, 0, 1) @ np.linalg.inv(m).T, 0, 1)
    return (rgb ** (1 / gamma)).astype(np.float32)


FAMILIES: dict[str, tuple[Callable[[], A.Degradation], Callable[[np.ndarray], np.ndarray]]] = {
    "awgn (sigma 15)": (lambda: A.GaussianNoise(15), ref_awgn),
    "poisson (0.05-3)": (lambda: A.PoissonNoise((0.05, 3.0)), ref_poisson),
    "blur (sigma 2)": (lambda: A.GaussianBlur(2.0), lambda im: ref_blur(im, 2.0)),
    "blur (sigma 1-4)": (lambda: A.GaussianBlur((1.0, 4.0)), ref_blur),
    "aniso blur": (lambda: A.AnisotropicGaussianBlur((0.5, 3.0), (0.5, 3.0)), ref_aniso),
    "jpeg (30-95)": (lambda: A.JPEG((30, 95)), ref_jpeg),
    "hybrid (severe)": (lambda: A.HybridDistortion("severe"), ref_hybrid),
    "realesrgan 1st x4": (lambda: A.RealESRGANDegradation(1, 4), lambda im: ref_realesrgan(im, 1)),
    "realesrgan 2nd x4": (lambda: A.RealESRGANDegradation(2, 4), lambda im: ref_realesrgan(im, 2)),
    "isp noise (RGGB)": (lambda: A.CameraNoise("RGGB"), ref_isp),
}


# ----------------------------------------------------------------------------- timing
def median_time(fn: Callable[[], object], repeats: int, device: torch.device = torch.device("cpu")) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-12)))


def clean_patches(n: int, size: int) -> torch.Tensor:
    from skimage import data

    imgs = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        img = torch.from_numpy(imgs[i % len(imgs)].copy()).permute(2, 0, 1).float() / 255
        top = int(torch.randint(img.shape[1] - size + 1, (1,), generator=g))
        left = int(torch.randint(img.shape[2] - size + 1, (1,), generator=g))
        out.append(img[:, top:top + size, left:left + size])
    return torch.stack(out).contiguous()


def family_table(batch: int, size: int, repeats: int, device: torch.device) -> list[dict[str, float | str]]:
    x = clean_patches(batch, size)
    imgs = [im.permute(1, 2, 0).numpy().copy() for im in x]
    xd = x.to(device)
    rows = []
    for name, (make, ref) in FAMILIES.items():
        deg = make()
        g = torch.Generator(device=device).manual_seed(1)
        t_b = median_time(lambda: deg(xd, g), repeats, device)
        t_r = median_time(lambda: [ref(im) for im in imgs], repeats)
        out_b = deg(xd, g).cpu()
        h, w = deg.output_size(size, size)
        lr = torch.nn.functional.interpolate(x, size=(h, w), mode="area") if (h, w) != (size, size) else x
        p_b = statistics.mean(psnr(out_b[i].numpy(), lr[i].numpy()) for i in range(batch))
        p_r = statistics.mean(psnr(np.asarray(ref(im)), lr[i].permute(1, 2, 0).numpy()) for i, im in enumerate(imgs))
        rows.append({"family": name, "batched_per_s": batch / t_b, "reference_per_s": batch / t_r,
                     "speedup": t_r / t_b, "psnr_batched": p_b, "psnr_reference": p_r})
    return rows


class SmallNet(torch.nn.Module):
    """The quick profile's DnCNN (6 conv layers, 32 channels, residual), or its x4 SR variant."""

    def __init__(self, sr: bool = False) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = [torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU()]
        for _ in range(4):
            layers += [torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU()]
        layers.append(torch.nn.Conv2d(32, 3 * 16 if sr else 3, 3, padding=1))
        self.body = torch.nn.Sequential(*layers)
        self.sr = sr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return torch.nn.functional.pixel_shuffle(y, 4) if self.sr else x - y


def step_cost(patch: int, per_conf: int, repeats: int, device: torch.device) -> list[dict[str, float | str]]:
    rows = []
    for task in A.PAPER_TASKS:
        sr = task.startswith("realsr")
        train, _ = A.paper_confounders(task)
        clean = clean_patches(per_conf, patch * 4 if sr else patch).to(device)
        g = torch.Generator(device=device).manual_seed(2)
        pairs = train(clean, g)
        net = SmallNet(sr).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)

        def train_step() -> None:  # one update per confounder: the compute of a DIL_sf step
            for deg, tgt in pairs:
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.l1_loss(net(deg), tgt).backward()
                opt.step()

        t_step = median_time(train_step, repeats, device)
        t_conf = median_time(lambda: train(clean, g), repeats, device)
        rows.append({"task": task, "confounders": len(train), "step_ms": 1e3 * t_step, "confounders_ms": 1e3 * t_conf,
                     "percent": 100 * t_conf / t_step})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64, help="patches per batch for the family table")
    ap.add_argument("--size", type=int, default=64, help="patch size for the family table")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the references are single-threaded)")
    ap.add_argument("--step-patch", type=int, default=48, help="quick-profile patch size")
    ap.add_argument("--step-batch", type=int, default=8, help="quick-profile batch per confounder")
    ap.add_argument("--device", default="cpu", help="device of the batched path and the training step (cpu, cuda)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{args.threads} torch thread(s)"

    fam = family_table(args.batch, args.size, args.repeats, device)
    print(f"\nThroughput, {args.batch} patches of {args.size}x{args.size}, batched path on {where} "
          f"(references on 1 CPU thread), median of {args.repeats}:")
    print(f"{'family':<20} {'batched/s':>10} {'reference/s':>12} {'speed-up':>9} {'PSNR b/ref':>12}")
    for r in fam:
        print(f"{r['family']:<20} {r['batched_per_s']:>10.0f} {r['reference_per_s']:>12.0f} {r['speedup']:>8.1f}x "
              f"{r['psnr_batched']:>6.2f}/{r['psnr_reference']:<5.2f}")
    cost = step_cost(args.step_patch, args.step_batch, args.repeats, device)
    print(f"\nConfounder generation vs one quick-profile step ({args.step_batch} x {args.step_patch}^2 per "
          f"confounder, one update per confounder) on {where}:")
    print(f"{'task':<12} {'n':>2} {'step ms':>9} {'confounders ms':>15} {'share':>7}")
    for r in cost:
        print(f"{r['task']:<12} {r['confounders']:>2} {r['step_ms']:>9.1f} {r['confounders_ms']:>15.1f} "
              f"{r['percent']:>6.1f}%")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "families": fam,
                                         "step_cost": cost, "torch": torch.__version__, "where": where}, indent=2))


if __name__ == "__main__":
    main()
