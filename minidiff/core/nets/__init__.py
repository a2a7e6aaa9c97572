"""Networks of the course: a time embedding, an MLP for 2-D points, a small U-Net for images.

Every network is called as `net(x, t)` with x a batch and t a (B,) tensor of times in [0, 1].
"""

from .embed import TimeEmbedding
from .mlp import MLP
from .classifier import DigitClassifier, NoisyDigitClassifier
from .unet import UNet, count_parameters, unet_preset
from .text_unet import CrossAttention, EncodedText, TextUNet
from .autoencoder import Autoencoder
from .contrastive import ContrastiveModel

__all__ = ["TimeEmbedding", "MLP", "UNet", "unet_preset", "count_parameters", "DigitClassifier", "NoisyDigitClassifier",
           "CrossAttention", "EncodedText", "TextUNet", "Autoencoder", "ContrastiveModel"]
# Each network lives in its own submodule and is re-exported here.
