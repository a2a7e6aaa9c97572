"""From a sentence to vectors a U-Net can attend to: a tokenizer, attention, and two text encoders.

    tok = Tokenizer(scenes.vocabulary())
    ids = tok(["a gold fish and a red can on the beach"])     # (1, max_len) word ids, 0 = padding
    context, mask = TransformerEncoder(len(tok))(ids)          # (1, max_len, dim), (1, max_len)

Every caption starts with the token <start> (id 1), so an empty caption still has one token to attend
to: the "null" caption of classifier-free guidance on text is [<start>] and nothing else.

Two encoders with the same call: TransformerEncoder (token and position embeddings, multi-head
self-attention, Vaswani et al. 2017), in which each word's vector can depend on its neighbours ("gold"
next to "fish"), and BagOfWords, which embeds every word on its own and knows no order, so that "a red
fish and a blue can" and "a blue fish and a red can" give it the same set of vectors.
"""

import difflib
import math
import numbers
import re

import torch
import torch.nn.functional as F
from torch import nn

from ..runtime import check_generator


def split_words(text: str, where: str = "parse") -> list[str]:
    """How every caption is cut, by the tokenizer and by captions.parse alike: lower-case words, commas,
    and any other symbol as a token of its own; a full stop, '!' or '?' at the very end is dropped (it
    ends a sentence and says nothing about the scene)."""
    if not isinstance(text, str):
        raise ValueError(f"{where}: a caption must be a string, got {type(text).__name__}")
    return re.findall(r"[a-z]+|,|[^\sa-z,]+", re.sub(r"[.!?]+\s*$", "", text.lower()))


PAD, START = 0, 1
SPECIALS = ("<pad>", "<start>")


def null_ids(n: int, max_len: int, device=None) -> torch.Tensor:
    """(n, max_len) ids of the empty caption, <start> then padding: the "no caption" of guidance."""
    ids = torch.full((n, max_len), PAD, dtype=torch.long, device=device)
    ids[:, 0] = START
    return ids


class UnknownWord(ValueError):
    """A caption with a word the vocabulary lacks. Its message is `problem` (the word, and the nearest
    known ones) then `known` (every word the model knows), kept apart for a display with little room."""

    def __init__(self, problem: str, known: str):
        super().__init__(f"{problem} {known}")
        self.problem, self.known = problem, known


class Tokenizer:
    """Words to ids and back, over a fixed vocabulary; an unknown word is an error that says which."""

    def __init__(self, vocabulary, max_len: int = 20):
        if isinstance(vocabulary, str):  # iterating it would make a vocabulary of letters
            raise TypeError(f"Tokenizer: vocabulary must be a list of words, got the string {vocabulary!r}"[:120]
                            + "; split it first: vocabulary.split(), or use scenes.vocabulary()")
        if isinstance(max_len, bool) or not isinstance(max_len, numbers.Integral) or max_len < 2:
            raise ValueError(f"Tokenizer: max_len must be an int >= 2 (<start> and at least one word), got "
                             f"{max_len!r}; for a model's captions use model.net.tokenizer(vocabulary)")
        self.words = list(SPECIALS) + [w for w in vocabulary if w not in SPECIALS]
        self.ids = {w: i for i, w in enumerate(self.words)}
        self.max_len = int(max_len)
        self._check_words()

    def _check_words(self) -> None:
        """Each word once, and as split() would cut it from a caption (else it could never be matched)."""
        if len(self.ids) < len(self.words):
            twice = sorted({w for w in self.words if self.words.count(w) > 1})
            raise ValueError(f"Tokenizer: the vocabulary lists {', '.join(map(repr, twice))} more than once; "
                             "give each word once (ids would not match the network's vocab_size)")
        odd = [w for w in self.words[len(SPECIALS):] if not isinstance(w, str) or self.split(w) != [w]]
        if odd:
            raise ValueError(f"Tokenizer: every vocabulary entry must be one lower-case word (or ','), as captions "
                             f"are split; got {', '.join(map(repr, odd[:5]))}")

    def __len__(self) -> int:
        return len(self.words)

    def split(self, text: str) -> list[str]:
        """Lower-case words and commas; any other symbol is a token of its own (and unknown); a full stop
        at the very end is dropped. The rule of split_words, which captions.parse uses too, so that the
        tokenizer and the parser always cut a caption the same way."""
        return split_words(text, "Tokenizer")

    def encode(self, text: str) -> torch.Tensor:
        """(max_len,) ids: <start>, the words, then <pad> up to max_len."""
        ids = [START]
        for word in self.split(text):
            if word not in self.ids:
                near = difflib.get_close_matches(word, self.words[len(SPECIALS):], n=3, cutoff=0.5)
                hint = f"; did you mean {' or '.join(repr(w) for w in near)}?" if near else "."
                raise UnknownWord(f"Tokenizer: unknown word {word!r} in {text!r}{hint}",
                                  f"The model knows {len(self) - len(SPECIALS)} words: "
                                  f"{' '.join(self.words[len(SPECIALS):])}")
            ids.append(self.ids[word])
        if len(ids) > self.max_len:
            raise ValueError(f"Tokenizer: {text!r} has {len(ids) - 1} words; at most {self.max_len - 1} fit")
        return torch.tensor(ids + [PAD] * (self.max_len - len(ids)), dtype=torch.long)

    def __call__(self, texts) -> torch.Tensor:
        """A caption or a list of them -> (B, max_len) ids; '' is the null caption [<start>]."""
        if not isinstance(texts, str) and not hasattr(texts, "__iter__"):
            raise TypeError(f"Tokenizer: give a caption (a string) or a list of them, got {type(texts).__name__} "
                            f"{texts!r}"[:200])
        texts = [texts] if isinstance(texts, str) else list(texts)
        return torch.stack([self.encode(t) for t in texts]) if texts else \
            torch.zeros(0, self.max_len, dtype=torch.long)

    def decode(self, ids) -> str:
        """ids -> the caption, without <start> and padding ('on the beach , a can' keeps its comma)."""
        ids = torch.as_tensor(ids)
        if ids.ndim != 1 or ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise ValueError(f"Tokenizer.decode: give one caption's word ids, shape (L,) of ints, got shape "
                             f"{tuple(ids.shape)} {ids.dtype}; for a batch (B, L): [tok.decode(row) for row in ids]")
        bad = ids[(ids < 0) | (ids >= len(self))]
        if len(bad):  # a negative id would silently pick a word from the end of the list
            raise ValueError(f"Tokenizer.decode: id {bad[0].item()} is not in this vocabulary (ids 0.."
                             f"{len(self) - 1}); were the ids made by another tokenizer (another vocabulary)?")
        return " ".join(self.words[i] for i in ids.tolist() if i not in (PAD, START)).replace(" ,", ",")

    def null(self, n: int, device=None) -> torch.Tensor:
        """(n, max_len) ids of the empty caption: <start> then padding."""
        return null_ids(n, self.max_len, device)


def drop_captions(ids: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Caption dropout: each row of ids (B, L) becomes the null caption with probability p, so one
    network learns p(x | text) and p(x) together (Ho & Salimans 2022, for labels)."""
    if not 0 <= p <= 1:
        raise ValueError(f"drop_captions: p must be in [0, 1], got {p}")
    check_generator(generator, "drop_captions")
    drop = torch.rand(ids.shape[0], generator=generator).to(ids.device) < p  # (B,)
    return torch.where(drop[:, None], null_ids(*ids.shape, ids.device), ids)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None):
    """softmax(q k^T / sqrt(d)) v, written out; q (..., N, d), k and v (..., M, d), mask (..., M)
    True where a key may be attended to. Returns (output (..., N, d), weights (..., N, M))."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (..., N, M)
    if mask is not None:
        scores = scores.masked_fill(~mask[..., None, :], float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Queries from x (B, N, dim_x) look at keys and values from context (B, M, dim_context); heads
    split the width. Self-attention when context is x. Set `keep_weights = True` to keep the last
    attention weights (B, heads, N, M) in `.weights` (lesson 10 draws them)."""

    def __init__(self, dim_x: int, dim_context: int, dim: int, heads: int = 4):
        super().__init__()
        if dim % heads:
            raise ValueError(f"MultiHeadAttention: dim ({dim}) must be divisible by heads ({heads})")
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(dim_x, dim), nn.Linear(dim_context, dim), nn.Linear(dim_context, dim)
        self.out = nn.Linear(dim, dim_x)
        self.keep_weights, self.weights = False, None

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, dim) -> (B, heads, N, dim / heads)
        return x.reshape(x.shape[0], x.shape[1], self.heads, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self._split(self.q(x)), self._split(self.k(context)), self._split(self.v(context))
        keep = mask[:, None, :] if mask is not None else None  # (B, 1, M): the same for every head
        if self.keep_weights:
            out, self.weights = attention(q, k, v, keep)
        else:  # the same numbers, by PyTorch's fused kernel (True = may attend)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, :, None, :] if keep is not None else None)
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)  # (B, N, dim)
        return self.out(out)


class TransformerEncoder(nn.Module):
    """ids (B, L) -> (context (B, L, dim), mask (B, L)): token plus position embeddings, then `layers`
    pre-norm blocks of self-attention and a small MLP, each added back (Vaswani et al. 2017)."""

    def __init__(self, vocab_size: int, dim: int = 64, heads: int = 4, layers: int = 2, max_len: int = 20):
        super().__init__()
        self.config = dict(kind="transformer", vocab_size=vocab_size, dim=dim, heads=heads, layers=layers,
                           max_len=max_len)
        self.dim, self.max_len = dim, max_len
        self.token = nn.Embedding(vocab_size, dim)
        self.position = nn.Embedding(max_len, dim)  # learned, one vector per place in the caption
        self.norms1 = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.attns = nn.ModuleList(MultiHeadAttention(dim, dim, dim, heads) for _ in range(layers))
        self.norms2 = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
                                  for _ in range(layers))
        self.final = nn.LayerNorm(dim)

    def forward(self, ids: torch.Tensor):
        _check_ids(ids, self.max_len, self.token.num_embeddings)
        mask = ids != PAD  # (B, L); <start> is never padding, so every row attends somewhere
        places = torch.arange(ids.shape[1], device=ids.device)
        h = self.token(ids) + self.position(places)  # (B, L, dim)
        for norm1, attn, norm2, mlp in zip(self.norms1, self.attns, self.norms2, self.mlps):
            a = norm1(h)
            h = h + attn(a, a, mask)  # every word looks at every word of its caption
            h = h + mlp(norm2(h))
        return self.final(h), mask


class BagOfWords(nn.Module):
    """ids (B, L) -> (context (B, L, dim), mask (B, L)), each word embedded on its own: no positions and
    no attention between words, so the encoding of a caption is the same for any order of its words."""

    def __init__(self, vocab_size: int, dim: int = 64, max_len: int = 20):
        super().__init__()
        self.config = dict(kind="bag", vocab_size=vocab_size, dim=dim, max_len=max_len)
        self.dim, self.max_len = dim, max_len
        self.token = nn.Embedding(vocab_size, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.final = nn.LayerNorm(dim)

    def forward(self, ids: torch.Tensor):
        _check_ids(ids, self.max_len, self.token.num_embeddings)
        h = self.token(ids)
        return self.final(h + self.mlp(h)), ids != PAD


ENCODERS = {"transformer": TransformerEncoder, "bag": BagOfWords}


def build_encoder(config: dict) -> nn.Module:
    """An encoder from its config dict (what `.config` holds): kind 'transformer' or 'bag'."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind not in ENCODERS:
        raise ValueError(f"build_encoder: kind must be one of {sorted(ENCODERS)}, got {kind!r}")
    return ENCODERS[kind](**config)


def _check_ids(ids: torch.Tensor, max_len: int, vocab_size: int) -> None:
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.dtype != torch.long:
        got = f"{tuple(ids.shape)} {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"text encoder: expected word ids of shape (B, L) and dtype long (from a "
                         f"Tokenizer), got {got}")
    if ids.shape[1] > max_len:
        raise ValueError(f"text encoder: captions of at most {max_len} tokens, got {ids.shape[1]}; was the "
                         f"Tokenizer made with another max_len? Use Tokenizer(vocabulary, max_len={max_len})")
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"text encoder: ids must be in 0..{vocab_size - 1}; was the tokenizer built "
                         "from another vocabulary?")
    if ids.numel() and (ids[:, 0] != START).any():
        raise ValueError("text encoder: every caption must start with the <start> token (id 1); make ids "
                         "with Tokenizer(...)(texts)")
