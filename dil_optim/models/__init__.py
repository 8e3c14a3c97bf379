"""Image-restoration backbones: RRDBNet, SwinIR, a DnCNN-style net, and ``build_model``."""

from __future__ import annotations

from .dncnn import DnCNN
from .factory import MODEL_NAMES, build_model, model_config
from .rrdb import RRDBNet, convert_legacy_rrdb_state_dict
from .swinir import SwinIR

__all__ = ["MODEL_NAMES", "DnCNN", "RRDBNet", "SwinIR", "build_model", "convert_legacy_rrdb_state_dict", "model_config"]
