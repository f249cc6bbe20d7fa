import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    """Every policy test starts from the same torch generator state."""
    torch.manual_seed(0)
