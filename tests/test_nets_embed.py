import math

import pytest
import torch

from minidiff.core.nets import TimeEmbedding


def test_embedding_matches_its_formula(device):
    emb = TimeEmbedding(dim=8, max_freq=30.0).to(device)
    t = torch.tensor([0.0, 0.25, 1.0], device=device)
    out = emb(t)
    freqs = [30.0 ** (i / 3) for i in range(4)]  # geometric from 1 to 30
    want = torch.tensor([[math.sin(2 * math.pi * f * s) for f in freqs] + [math.cos(2 * math.pi * f * s) for f in freqs]
                         for s in t.tolist()])
    assert out.shape == (3, 8) and out.device.type == device.type
    assert torch.allclose(out.cpu(), want, atol=1e-4)


def test_embedding_rejects_bad_input():
    with pytest.raises(ValueError, match="even"):
        TimeEmbedding(dim=7)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        TimeEmbedding(8)(torch.zeros(3, 1))
