"""DnCNN-style plain conv net (Zhang et al., TIP 2017), the small CPU backbone for quick profiles."""

from __future__ import annotations

from torch import Tensor, nn

from ._padding import check_image_batch

__all__ = ["DnCNN"]


class DnCNN(nn.Module):
    """``depth`` 3x3 convs with ReLU between them. Maps ``(N, in_ch, H, W)`` to ``(N, out_ch, H, W)``.

    Layout: conv(in_ch -> width) + ReLU, then ``depth - 2`` times conv(width -> width)
    [+ BatchNorm] + ReLU, then conv(width -> out_ch). Any ``H, W >= 1`` (zero padding).

    Args:
        in_ch, out_ch: image channels.
        depth: number of conv layers, >= 2 (the pilot used 6; the original DnCNN 17 or 20).
        width: channels of the hidden layers (pilot 32; original 64).
        residual: if True (default) the net predicts the distortion and returns
            ``x - net(x)`` (residual learning, as in DnCNN); needs ``in_ch == out_ch``.
            If False it returns ``net(x)`` directly, as RRDB does.
        batchnorm: BatchNorm after the hidden convs (original DnCNN). Off by default: running
            statistics are buffers that meta-learning has to save and restore.
        bias: additive biases in the convs (default True). ``bias=False`` gives the bias-free
            net of Mohan et al. (ICLR 2020), which is homogeneous of degree one in its input and
            known to generalise beyond its training noise range; it cannot be combined with
            ``batchnorm`` (BatchNorm subtracts a mean and adds a shift).
    """

    def __init__(
        self,
        in_ch: int = 3,
        out_ch: int = 3,
        depth: int = 6,
        width: int = 32,
        residual: bool = True,
        batchnorm: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        for key, val in (("in_ch", in_ch), ("out_ch", out_ch), ("width", width)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ValueError(f"DnCNN: {key} must be a positive int, got {val!r}")
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 2:
            raise ValueError(f"DnCNN: depth must be an int >= 2, got {depth!r}")
        if residual and in_ch != out_ch:
            raise ValueError(f"DnCNN: residual=True needs in_ch == out_ch, got {in_ch} and {out_ch}")
        if batchnorm and not bias:
            raise ValueError("DnCNN: bias=False cannot be combined with batchnorm=True (BatchNorm adds a shift)")
        self.in_ch, self.out_ch, self.residual = in_ch, out_ch, bool(residual)
        layers: list[nn.Module] = [nn.Conv2d(in_ch, width, 3, 1, 1, bias=bias), nn.ReLU()]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(width, width, 3, 1, 1, bias=bias and not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
        layers.append(nn.Conv2d(width, out_ch, 3, 1, 1, bias=bias))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        check_image_batch(x, self.in_ch, "DnCNN")
        out = self.body(x)
        return x - out if self.residual else out
