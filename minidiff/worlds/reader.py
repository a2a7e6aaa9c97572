"""The attribute reader: a small CNN that reads a scene image back into words (lesson 10's judge).

    reader = SceneReader()
    logits = reader(images)              # (B, 56): background, then per place: object, colour
    scenes = reader.read(images)         # a scenes.Scene per image

For each of the four places (left, right, top, bottom) it says which object stands there (or none)
and its colour; and it says the background. It is trained on rendered scenes of every combination,
held-out ones included (it is a measuring instrument, like the digit classifier), by
scripts/train_reader.py.
"""

import torch
import torch.nn.functional as F
from torch import nn

from . import scenes as S
from ..core.nets import _checks

N_BG, N_OBJ, N_COL, N_POS = len(S.BACKGROUNDS), len(S.OBJECTS) + 1, len(S.COLOURS), len(S.POSITIONS)
OUTPUTS = N_BG + N_POS * (N_OBJ + N_COL)


class SceneReader(nn.Module):
    """(B, 3, 24, 24) images in [-1, 1] -> (B, OUTPUTS) logits; `read` turns them into Scenes."""

    def __init__(self, width: int = 32, hidden: int = 256):
        super().__init__()
        self.config = dict(width=width, hidden=hidden)
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1),
            nn.ReLU())  # (B, 2w, 6, 6): each place keeps its own cells, so the head can tell them apart
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * w * 36, hidden), nn.ReLU(), nn.Linear(hidden, OUTPUTS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.images(x, "SceneReader", "scenes", (3, S.SIZE, S.SIZE))  # [0, 1] images read as other scenes
        return self.head(self.features(x))

    @staticmethod
    def split(logits: torch.Tensor):
        """(B, OUTPUTS) -> background (B, N_BG), objects (B, 4, N_OBJ), colours (B, 4, N_COL) logits."""
        bg = logits[:, :N_BG]
        obj = logits[:, N_BG:N_BG + N_POS * N_OBJ].reshape(-1, N_POS, N_OBJ)
        col = logits[:, N_BG + N_POS * N_OBJ:].reshape(-1, N_POS, N_COL)
        return bg, obj, col

    @torch.no_grad()
    def read(self, x: torch.Tensor, batch_size: int = 500) -> list:
        """The scene each image shows, as a scenes.Scene (places with no object are left out)."""
        _checks.images(x, "SceneReader.read", "scenes", (3, S.SIZE, S.SIZE))
        out = []
        for chunk in x.split(batch_size):
            bg, obj, col = self.split(self(chunk.to(next(self.parameters()))))
            for b, o, c in zip(bg.argmax(1).tolist(), obj.argmax(2).tolist(), col.argmax(2).tolist()):
                things = tuple(S.Thing(S.COLOURS[ci], S.OBJECTS[oi - 1], S.POSITIONS[p])
                               for p, (oi, ci) in enumerate(zip(o, c)) if oi > 0)
                out.append(S.Scene(S.BACKGROUNDS[b], things))
        return out


def targets(scenes: list) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the reader should say about each scene: background (B,), object per place (B, 4) with 0 =
    none, colour per place (B, 4) with -100 (ignored by cross_entropy) where no object stands."""
    bg = torch.tensor([S.BACKGROUNDS.index(s.background) for s in scenes])
    obj = torch.zeros(len(scenes), N_POS, dtype=torch.long)
    col = torch.full((len(scenes), N_POS), -100, dtype=torch.long)
    for i, s in enumerate(scenes):
        for thing in s.things:
            p = S.POSITIONS.index(thing.position)
            obj[i, p], col[i, p] = S.OBJECTS.index(thing.object) + 1, S.COLOURS.index(thing.colour)
    return bg, obj, col


def reader_loss(logits: torch.Tensor, scenes: list) -> torch.Tensor:
    """The sum of the three cross-entropies (background, objects, colours where an object stands)."""
    bg, obj, col = SceneReader.split(logits)
    tb, to, tc = targets(scenes)
    return (F.cross_entropy(bg, tb) + F.cross_entropy(obj.reshape(-1, N_OBJ), to.reshape(-1))
            + F.cross_entropy(col.reshape(-1, N_COL), tc.reshape(-1)))
