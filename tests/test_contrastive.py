"""nets.contrastive: the symmetric loss against a loop of exp and log and its gradient against the
closed form, retrieval accuracy on hand-made matrices, and a small untrained ContrastiveModel whose
embeddings, similarity and temperature cap are checked against direct computations from its own
weights, and which a few Adam steps teach its batch."""

import math
import re

import pytest
import torch
import torch.nn.functional as F

from minidiff import latent, scenes as S
from minidiff.core.nets.contrastive import ContrastiveModel, contrastive_loss, retrieval_accuracy
from minidiff.core.nets.text_unet import TextUNet
from minidiff.core.text import PAD, Tokenizer, build_encoder

TOK = Tokenizer(S.vocabulary())


def tiny(seed: int = 0) -> ContrastiveModel:
    torch.manual_seed(seed)
    return ContrastiveModel(len(TOK), dim=16, text_dim=16, heads=2, layers=1, width=8)


def loss_by_hand(logits) -> float:
    """Mean over i of -log softmax(row i)[i] and -log softmax(column i)[i], halved: plain floats."""
    rows = logits.tolist()
    b, total = len(rows), 0.0
    for i in range(b):
        total -= rows[i][i] - math.log(sum(math.exp(rows[i][j]) for j in range(b)))
        total -= rows[i][i] - math.log(sum(math.exp(rows[j][i]) for j in range(b)))
    return total / (2 * b)


BATCH = latent.retrieval_batch(8, seed=0)  # 8 images, captions, scenes; no two of one combination


# ---- the loss -----------------------------------------------------------------------------------------

def test_contrastive_loss_equals_a_direct_computation():
    for seed, b in ((0, 1), (1, 3), (2, 6)):
        logits = 3 * torch.randn(b, b, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        assert contrastive_loss(logits).item() == pytest.approx(loss_by_hand(logits), rel=1e-12)
    # rows and columns both count: an asymmetric matrix, whose row loss and column loss differ
    lop = torch.tensor([[2.0, 1.0, 1.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]], dtype=torch.float64)
    rows = F.cross_entropy(lop, torch.arange(3)).item()
    assert rows != pytest.approx(F.cross_entropy(lop.T, torch.arange(3)).item())
    assert contrastive_loss(lop).item() == pytest.approx(loss_by_hand(lop), rel=1e-12)


def test_contrastive_loss_is_symmetric_and_has_the_closed_form_gradient():
    logits = torch.randn(5, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64,
                         requires_grad=True)
    assert contrastive_loss(logits).item() == pytest.approx(contrastive_loss(logits.T).item(), rel=1e-12)
    contrastive_loss(logits).backward()
    eye = torch.eye(5, dtype=torch.float64)
    # d/dL of the mean row cross-entropy is (softmax over rows - I) / B; columns likewise; halved
    expected = ((logits.softmax(1) - eye) + (logits.softmax(0) - eye)) / (2 * 5)
    assert torch.allclose(logits.grad, expected.detach(), atol=1e-12)


def test_constant_logits_give_log_b_and_a_larger_diagonal_lowers_the_loss():
    for b in (1, 4, 10):
        assert contrastive_loss(torch.full((b, b), 2.5)).item() == pytest.approx(math.log(b), rel=1e-6)
    base = torch.randn(6, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    losses = [contrastive_loss(base + a * torch.eye(6, dtype=torch.float64)).item() for a in (0, 1, 3, 10, 50)]
    assert all(x > y for x, y in zip(losses, losses[1:])) and losses[-1] < 1e-12
    # the matched pair losing to another caption raises it above log B
    assert contrastive_loss(torch.full((4, 4), 1.0) - 3 * torch.eye(4)).item() > math.log(4)


def test_contrastive_loss_refuses_a_matrix_that_is_not_square():
    for bad in (torch.zeros(3, 4), torch.zeros(4), torch.zeros(2, 2, 2)):
        shape = re.escape(str(tuple(bad.shape)))
        with pytest.raises(ValueError, match=rf"contrastive_loss: .*square \(B, B\) matrix .* got shape {shape}"):
            contrastive_loss(bad)


# ---- retrieval ----------------------------------------------------------------------------------------

def test_retrieval_accuracy_on_hand_made_matrices():
    # rows (image -> text): argmaxes 0, 0, 2 -> 2 of 3 right; columns (text -> image): 0, 1, 2 -> all
    logits = torch.tensor([[5.0, 1.0, 0.0], [4.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    assert retrieval_accuracy(logits) == pytest.approx({"image_to_text": 2 / 3, "text_to_image": 1.0})
    assert retrieval_accuracy(logits.T) == pytest.approx({"image_to_text": 1.0, "text_to_image": 2 / 3})
    assert retrieval_accuracy(torch.eye(4)) == {"image_to_text": 1.0, "text_to_image": 1.0}
    shifted = torch.eye(4).roll(1, dims=1)  # every image's best caption is its neighbour's
    assert retrieval_accuracy(shifted) == {"image_to_text": 0.0, "text_to_image": 0.0}
    # the scale does not matter, only the order within a row or column
    assert retrieval_accuracy(100 * logits) == retrieval_accuracy(logits)


def test_retrieval_accuracy_refuses_a_matrix_that_is_not_square():
    with pytest.raises(ValueError, match=r"retrieval_accuracy: logits must be a square \(B, B\).*got shape \(3, 2\)"):
        retrieval_accuracy(torch.zeros(3, 2))


# ---- the model ----------------------------------------------------------------------------------------

def test_embeddings_are_unit_vectors_and_texts_are_the_masked_mean_projected():
    model = tiny()
    images, captions, _ = BATCH
    img, txt = model.encode_images(images), model.encode_texts(TOK(captions))
    assert torch.allclose(img.norm(dim=1), torch.ones(8), atol=1e-6)
    assert torch.allclose(txt.norm(dim=1), torch.ones(8), atol=1e-6)
    assert torch.allclose(img, model.image(images) / model.image(images).norm(dim=1, keepdim=True), atol=1e-6)
    ids = TOK(captions)
    context, _ = model.text(ids)
    for i in range(len(captions)):
        n = len(TOK.split(captions[i])) + 1  # <start> and the words; the rest is padding
        pooled = context[i, :n].mean(0)
        v = model.text_projection(pooled)
        assert torch.allclose(txt[i], v / v.norm(), atol=1e-6), captions[i]
    # padding plays no part: cutting it off, or changing its embedding, changes nothing
    longest = max(len(TOK.split(c)) for c in captions) + 1
    assert torch.allclose(model.encode_texts(ids[:, :longest]), txt, atol=1e-6)
    with torch.no_grad():
        model.text.token.weight[PAD] += 5.0 * torch.randn(16, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(model.encode_texts(ids), txt, atol=1e-5)


def test_similarity_is_the_scaled_cosine_and_the_scale_stops_at_100():
    model = tiny()
    images, captions, _ = BATCH
    ids = TOK(captions)
    raw_img, raw_txt = model.image(images), model.text_projection(
        torch.stack([model.text(ids)[0][i, :len(TOK.split(c)) + 1].mean(0) for i, c in enumerate(captions)]))
    cos = torch.tensor([[F.cosine_similarity(a, b, dim=0).item() for b in raw_txt] for a in raw_img])
    sim = model.similarity(images, ids)
    assert model.logit_scale.exp().item() == pytest.approx(1 / 0.07, rel=1e-6)  # CLIP's start
    assert torch.allclose(sim, cos / 0.07, atol=1e-4)
    assert torch.equal(model(images, ids), sim)
    # a learned scale beyond 100 is used as 100, and gets no gradient pushing it further
    with torch.no_grad():
        model.logit_scale.fill_(math.log(1000.0))
    sim = model.similarity(images, ids)
    assert torch.allclose(sim, 100 * cos, atol=1e-4)
    contrastive_loss(sim).backward()
    assert model.logit_scale.grad.item() == 0.0
    model.zero_grad()
    with torch.no_grad():
        model.logit_scale.fill_(math.log(20.0))
    contrastive_loss(model.similarity(images, ids)).backward()
    assert model.logit_scale.grad.item() != 0.0  # below the cap it learns


def test_a_few_adam_steps_lower_the_loss_on_a_batch():
    model = tiny(1)
    images, captions, _ = BATCH
    ids = TOK(captions)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = contrastive_loss(model(images, ids)).item()
    for _ in range(15):
        loss = contrastive_loss(model(images, ids))
        opt.zero_grad()
        loss.backward()
        opt.step()
    last = contrastive_loss(model(images, ids)).item()
    # chance is log 8 = 2.08; an untrained model sits near it, 15 steps on one batch go well below
    assert first > 0.5 * math.log(8) and last < 0.5 * first
    assert retrieval_accuracy(model(images, ids))["image_to_text"] > retrieval_accuracy(
        tiny(1)(images, ids))["image_to_text"]


def test_the_text_encoder_moves_into_a_frozen_text_unet():
    model = tiny()
    config = model.text_config
    assert config == model.text.config and config is not model.text.config  # a copy, safe to change
    net = TextUNet(len(TOK), in_channels=4, channels=(8, 16), cross_levels=(1,), encoder=config, groups=4,
                   heads=2, freeze_encoder=True)
    net.encoder.load_state_dict(model.text.state_dict())  # strict: the same modules, the same shapes
    ids = TOK(BATCH[1])
    for a, b in zip(net.encoder(ids), model.text(ids)):
        assert torch.equal(a, b)
    again = build_encoder(config)  # the config alone rebuilds the encoder the weights fit
    again.load_state_dict(model.text.state_dict())
    assert torch.equal(again(ids)[0], model.text(ids)[0])
    assert not any(p.requires_grad for p in net.encoder.parameters())


def test_bad_images_are_refused_with_the_expected_shape():
    model = tiny()
    for bad, got in ((torch.zeros(2, 3, 16, 16), r"\(2, 3, 16, 16\)"), (torch.zeros(3, 24, 24), r"\(3, 24, 24\)"),
                     (torch.zeros(2, 1, 24, 24), r"\(2, 1, 24, 24\)")):
        with pytest.raises(ValueError, match=rf"images must have shape \(B, 3, 24, 24\), got {got}"):
            model.encode_images(bad)
    with pytest.raises(ValueError, match="unknown word 'purple'"):
        model.encode_texts(TOK(["a purple fish"]))
