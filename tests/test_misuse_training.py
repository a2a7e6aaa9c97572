"""Training and loading off the lessons' path: each misuse gets a message that says what was wrong and
what to do (labels out of range or bool, a GAN given a tensor, a file of another kind to a loader)."""

import pytest
import torch

from minidiff import gan, pretrained, toy
from minidiff.core.checkpoints import DATA_DIR, save
from minidiff.core.guidance import drop_labels
from minidiff.core.losses import diffusion_loss
from minidiff.core.nets import MLP, DigitClassifier, UNet
from minidiff.core.params import Denoiser
from minidiff.core.schedules import VPLinear
from minidiff.core.train import train


def _cond_unet():
    return UNet(in_channels=1, channels=(8, 8), num_classes=10, groups=4)


def _pairs(labels):
    x = torch.zeros(len(labels), 1, 8, 8)
    return lambda generator: (x, labels)


def _loss(model, batch, generator=None):
    x, y = batch
    return diffusion_loss(model, x, VPLinear(), generator=generator, cond=y)


def test_label_equal_to_num_classes_is_refused_not_trained_as_the_null_label():
    # before: label 10 silently trained the unconditional (null-label) model
    with pytest.raises(ValueError, match=r"train \(the batch of step 1\): labels must be in 0..9, got 10 "
                                         r"\(1 of 4\); 10 is the null label"):
        train(_cond_unet(), _loss, _pairs(torch.tensor([0, 3, 10, 9])), steps=2, progress=False)


def test_bool_labels_are_refused():
    # before: True trained as class 1, silently
    with pytest.raises(TypeError, match=r"labels must be whole class numbers 0..9 \(int64\), got dtype torch.bool"):
        train(_cond_unet(), _loss, _pairs(torch.tensor([True, False])), steps=1, progress=False)


def test_negative_label_is_refused_for_a_denoiser_and_a_classifier_too():
    model = Denoiser(_cond_unet(), VPLinear())
    with pytest.raises(ValueError, match="labels must be in 0..9, got -1"):
        train(model, lambda m, b: diffusion_loss(m.net, b[0], VPLinear(), cond=b[1]),
              _pairs(torch.tensor([-1, 2])), steps=1, progress=False)
    clf = DigitClassifier(8, channels=(8, 8))
    # before: cross_entropy's "Target 10 is out of bounds" (IndexError)
    with pytest.raises(ValueError, match="labels must be in 0..9, got 12"):
        train(clf, lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]),
              _pairs(torch.tensor([1, 12])), steps=1, progress=False)


def test_labels_in_range_train_as_before():
    torch.manual_seed(0)
    h = train(_cond_unet(), _loss, _pairs(torch.tensor([0, 9, 5, 1])), steps=2, progress=False)
    assert len(h.losses) == 2


def test_drop_labels_checks_what_it_is_given():
    g = torch.Generator().manual_seed(0)
    assert drop_labels(torch.tensor([0, 9]), 0.0, 10, g).tolist() == [0, 9]
    with pytest.raises(ValueError, match=r"drop_labels: labels must be in 0..9, got 10"):
        drop_labels(torch.tensor([0, 10]), 0.1, 10, g)
    with pytest.raises(TypeError, match="drop_labels: labels must be whole class numbers .* torch.bool"):
        drop_labels(torch.tensor([True]), 0.1, 10, g)
    with pytest.raises(TypeError, match="torch.float32"):
        drop_labels(torch.tensor([1.0]), 0.1, 10, g)
    with pytest.raises(ValueError, match=r"a \(B,\) tensor of class labels, got shape \(2, 1\)"):
        drop_labels(torch.tensor([[1], [2]]), 0.1, 10, g)  # before: broadcast to a (2, 2) batch of labels


def test_a_gan_given_a_tensor_says_it_wants_a_sampler():
    # before: TypeError: 'Tensor' object is not callable, from inside the loop
    points = toy.grid().sample(100, generator=torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match=r"train_gan: data must be a sampler data\(n, generator\) .* got a tensor "
                                        r"of shape \(100, 2\). For a fixed set of points x, pass lambda n, g"):
        gan.train_gan(gan.Generator(), gan.Discriminator(), points, steps=1)


def test_load_text2image_given_another_kind_of_file_lists_the_models(tmp_path):
    # before: AttributeError: 'UNet' object has no attribute 'tokenizer'
    with pytest.raises(ValueError, match=r"ddpm8.pt holds a UNet, not a pixel text-to-image model; the "
                                         r"text-to-image models are 'scenes' \(text2image.pt\), 'scenes_bag'"):
        pretrained.load_text2image(path=DATA_DIR / "ddpm8.pt")
    with pytest.raises(ValueError, match=r"latent text-to-image model .* latent.load_pipeline\(\)"):
        pretrained.load_text2image(path=DATA_DIR / "latent_text2image.pt")
    save(tmp_path / "mlp.pt", MLP(hidden=8, depth=1))
    with pytest.raises(ValueError, match=r"mlp.pt holds a MLP \(no Denoiser\), not a pixel text-to-image model"):
        pretrained.load_text2image(path=tmp_path / "mlp.pt")
    with pytest.raises(ValueError, match="text2image_steps.pt is not a minidiff checkpoint .* another kind"):
        pretrained.load_text2image(path=DATA_DIR / "text2image_steps.pt")


def test_load_text2image_step_without_a_snapshot_lists_what_there_is():
    with pytest.raises(ValueError, match=r"no snapshot at step 123; text2image_steps.pt holds steps "
                                         r"\[500, 1000, 2000, 4000\]"):
        pretrained.load_text2image("scenes", step=123)
    # before: FileNotFoundError on data/text2image_bag_steps.pt, a file the learner never named
    with pytest.raises(ValueError, match=r"text2image_bag.pt kept no snapshots .* trained with snapshots are "
                                         r"\['scenes'\]"):
        pretrained.load_text2image("scenes_bag", step=500)


def test_a_loader_given_a_checkpoint_of_another_model_names_what_it_holds():
    # before: load_network returned whatever registered network the file held (a UNet for an autoencoder)
    with pytest.raises(ValueError, match="ddpm8.pt holds a UNet, not the Autoencoder wanted here"):
        pretrained.load_network(DATA_DIR / "ddpm8.pt", kind=pretrained.Autoencoder)
    with pytest.raises(ValueError, match="text2image.pt holds a TextUNet, not the UNet wanted here"):
        pretrained.load_denoiser(DATA_DIR / "text2image.pt", kind=UNet)


def test_labels_given_with_the_data_are_checked_once_before_training():
    x, y = torch.zeros(4, 1, 8, 8), torch.tensor([0, 3, 10, 9])
    with pytest.raises(ValueError, match=r"train \(the data's labels\): labels must be in 0..9, got 10"):
        train(_cond_unet(), _loss, (x, y), steps=2, batch_size=2, progress=False)
