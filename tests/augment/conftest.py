from __future__ import annotations

import pytest
import torch

from ._helpers import natural_batch


@pytest.fixture
def natural() -> torch.Tensor:
    return natural_batch()
