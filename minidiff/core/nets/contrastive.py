"""A small CLIP: an image encoder and a text encoder trained so that an image and its caption land on
nearby unit vectors, and an image and someone else's caption do not (Radford et al. 2021).

    model = ContrastiveModel(vocab_size=len(tok))
    img = model.encode_images(images)          # (B, dim), unit length
    txt = model.encode_texts(tok(captions))    # (B, dim), unit length
    loss = contrastive_loss(model.logit_scale.exp() * img @ txt.T)

Row i of the similarity matrix compares image i with every caption of the batch; the right caption
is on the diagonal. The loss is a cross-entropy over each row (which caption is this image's?) and
over each column (which image is this caption's?), averaged: symmetric. The temperature is learned
(as log of the scale, started at 1 / 0.07 as in the paper, and capped at 100).

The text encoder is text.TransformerEncoder, the one lesson 10 trained with its diffusion model; its
per-word vectors are what the latent diffusion model of lesson 11 attends to, frozen, as Stable
Diffusion attends to CLIP's.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..text import TransformerEncoder


class ImageEncoder(nn.Module):
    """(B, 3, 24, 24) -> (B, dim): three convolutions down to 6x6, then an MLP over the flattened
    grid, so that where a thing stands (left or right) survives."""

    def __init__(self, dim: int = 64, width: int = 32, hidden: int = 256, size: int = 24):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1),
            nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * w * (size // 4) ** 2, hidden), nn.ReLU(),
                                  nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ContrastiveModel(nn.Module):
    """Image and caption -> unit vectors of `dim` numbers in one space; `logit_scale` is log(1 / temperature)."""

    def __init__(self, vocab_size: int, dim: int = 64, text_dim: int = 64, heads: int = 4, layers: int = 2,
                 max_len: int = 20, width: int = 32, size: int = 24):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, dim=dim, text_dim=text_dim, heads=heads, layers=layers,
                           max_len=max_len, width=width, size=size)
        self.image = ImageEncoder(dim, width, size=size)
        self.text = TransformerEncoder(vocab_size, text_dim, heads, layers, max_len)
        self.text_projection = nn.Linear(text_dim, dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    @property
    def text_config(self) -> dict:
        """The config of the text encoder alone (what a TextUNet needs to hold a frozen copy)."""
        return dict(self.text.config)

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config["size"]
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1:] != (3, s, s):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"ContrastiveModel: images must have shape (B, 3, {s}, {s}), got {got}")
        return F.normalize(self.image(x), dim=-1)

    def encode_texts(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, L) from a Tokenizer -> (B, dim): the mean of the caption's word vectors, projected."""
        context, mask = self.text(ids)  # (B, L, D), (B, L)
        pooled = (context * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return F.normalize(self.text_projection(pooled), dim=-1)

    def similarity(self, images: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """(B_images, B_texts) cosine similarities times the learned scale: the loss's logits."""
        scale = self.logit_scale.clamp(max=math.log(100.0)).exp()
        return scale * self.encode_images(images) @ self.encode_texts(ids).T

    def forward(self, images: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return self.similarity(images, ids)


def contrastive_loss(logits: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy of a square (B, B) similarity matrix whose diagonal holds the matched
    pairs: the mean of the image-to-text loss (rows) and the text-to-image loss (columns)."""
    if logits.ndim != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"contrastive_loss: logits must be a square (B, B) matrix with matched pairs on the "
                         f"diagonal, got shape {tuple(logits.shape)}")
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


@torch.no_grad()
def retrieval_accuracy(logits: torch.Tensor) -> dict:
    """Top-1 retrieval from a (B, B) similarity matrix with the right pairs on the diagonal:
    image-to-text (each row's largest entry is on the diagonal) and text-to-image (each column's)."""
    if logits.ndim != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"retrieval_accuracy: logits must be a square (B, B) matrix with matched pairs on "
                         f"the diagonal, got shape {tuple(logits.shape)}")
    labels = torch.arange(logits.shape[0], device=logits.device)
    return {"image_to_text": (logits.argmax(1) == labels).float().mean().item(),
            "text_to_image": (logits.argmax(0) == labels).float().mean().item()}
