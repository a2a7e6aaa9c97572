"""The text-to-image pipelines (text2image.sample, latent.TextToImage) as a learner meets them: a prompt is
read by the text encoder once per sample call, not at every step; the pipeline runs its own stages; one
keyword order everywhere; every generator of the package gives the caller's grad mode back; misuse gets a
message; long calls show a progress bar and stop cleanly on Ctrl-C."""

import importlib
import inspect
import os
import pkgutil
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import minidiff
from minidiff import captions, exact, ink, inverse, latent, pretrained, samplers, sampling, schedules, text2image, train, widgets
from minidiff import scenes as S
from minidiff.core.nets.autoencoder import Autoencoder
from minidiff.core.nets.text_unet import EncodedText, TextUNet
from minidiff.core.params import Denoiser
from minidiff.core.text import Tokenizer

TOK = Tokenizer(S.vocabulary())
PROMPTS = ["a gold fish and a red can on the beach", "at night, a white star"]


def tiny_model(space: str = "latent", seed: int = 0) -> Denoiser:
    torch.manual_seed(seed)
    channels = 4 if space == "latent" else 3
    net = TextUNet(len(TOK), in_channels=channels, channels=(8, 16), cross_levels=(1,), groups=4, heads=2,
                   encoder=dict(kind="transformer", dim=16, heads=2, layers=1, max_len=20))
    return Denoiser(net, schedules.VPLinear(0.1, 20.0), sample_shape=(channels, 6, 6) if channels == 4 else (3, 8, 8))


def tiny_pipeline() -> latent.TextToImage:
    torch.manual_seed(1)
    vae = Autoencoder(width=8)
    return latent.TextToImage(TOK, tiny_model(), vae)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def count_encoder_calls(model) -> list:
    """The batch size of every run of the model's text encoder, appended as it happens."""
    rows = []
    model.net.encoder.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    return rows


# ---- a prompt is encoded once per sample call -------------------------------------------------------

@pytest.mark.parametrize("steps", [1, 5])
def test_the_text_encoder_runs_twice_per_sample_call_whatever_the_steps(steps):
    # What is counted: runs of net.encoder. Per sample call (one batch): one run for the prompts (all n
    # copies together) and one for the empty caption of guidance's null half (one row, repeated).
    # Before, the encoder ran inside every network call: 5 runs of 2B rows for 5 steps.
    pipe = tiny_pipeline()
    rows = count_encoder_calls(pipe.denoiser)
    pipe(PROMPTS, n=2, w=3.0, steps=steps, generator=gen(0))
    assert rows == [4, 1]
    rows.clear()
    text2image.sample(pipe.denoiser, TOK, PROMPTS, n=2, w=3.0, steps=steps, generator=gen(0))
    assert rows == [4, 1]
    rows.clear()
    pipe(PROMPTS, n=2, w=3.0, steps=steps, generator=gen(0), batch_size=3)  # two batches: twice that
    assert rows == [3, 1, 1, 1]


def test_encoding_once_gives_the_numbers_of_encoding_at_every_step():
    # the old way, written out: ClassifierFree on ids, which the network reads again at every step
    from minidiff.core.guidance import ClassifierFree

    pipe = tiny_pipeline()
    ids, noise = TOK(pipe.prompts(PROMPTS, 2)), pipe.noise(4, gen(3))
    old = samplers.run(samplers.SAMPLERS["ddim"](ClassifierFree(pipe.denoiser, ids, 3.0), noise,
                                                 schedules.uniform_grid(4), schedule=pipe.schedule))
    encoded = pipe.encode(ids)
    assert isinstance(encoded, EncodedText) and encoded.context.shape[:2] == ids.shape
    new = pipe.denoise(encoded, noise, w=3.0, steps=4)
    assert (new - old).abs().max() < 1e-5  # measured 0 on the CPU; float round-off allowed
    images = pipe(PROMPTS, n=2, w=3.0, steps=4, generator=gen(3))
    assert torch.equal(images, pipe.decode(new))


# ---- the pipeline runs its own stages -----------------------------------------------------------------

def test_the_pipeline_call_runs_its_stages_in_order(monkeypatch):
    pipe, seen = tiny_pipeline(), []
    for stage in ("encode", "noise", "denoise_steps", "decode"):
        original = getattr(pipe, stage)

        def logged(*args, _stage=stage, _original=original, **kwargs):
            seen.append(_stage)
            return _original(*args, **kwargs)
        monkeypatch.setattr(pipe, stage, logged)
    monkeypatch.setattr(text2image, "sample", lambda *a, **k: pytest.fail("the pipeline handed off to sample"))
    images = pipe(PROMPTS, n=2, w=3.0, steps=2, generator=gen(0))
    assert seen == ["encode", "noise", "denoise_steps", "decode"] and images.shape == (4, 3, 24, 24)
    seen.clear()
    pipe(PROMPTS, n=2, w=3.0, steps=2, generator=gen(0), batch_size=2)  # stages 2 to 5 once per batch
    assert seen == ["encode", "noise", "denoise_steps", "decode"] * 2


# ---- one keyword order --------------------------------------------------------------------------------

ORDER = ("n", "w", "steps", "sampler", "generator")
CALLS = {  # function -> the name of its prompt (or captions) argument, after which all are keyword-only
    text2image.sample: "prompts", text2image.prompt_adherence: "prompts", text2image.guided_steps: "noise",
    latent.TextToImage.__call__: "prompt", latent.TextToImage.denoise_steps: "noise",
    latent.TextToImage.denoise: "noise", widgets.prompt_explorer: "prompt",
}


@pytest.mark.parametrize("function", CALLS, ids=lambda f: f.__qualname__)
def test_every_argument_after_the_prompt_is_keyword_only_in_one_order(function):
    params = list(inspect.signature(function).parameters.values())
    after = params[[p.name for p in params].index(CALLS[function]) + 1:]
    assert after and all(p.kind is p.KEYWORD_ONLY for p in after), [p.name for p in after]
    names = [p.name for p in after if p.name in ORDER]
    assert len(names) >= 2 and names == [n for n in ORDER if n in names]


def test_a_positional_w_or_steps_is_refused_by_python():
    pipe = tiny_pipeline()
    with pytest.raises(TypeError, match="positional"):
        pipe(PROMPTS, 2, 3.0)
    with pytest.raises(TypeError, match="positional"):
        text2image.sample(pipe.denoiser, TOK, PROMPTS, 3.0, 2)


# ---- every generator gives the caller's grad mode back -----------------------------------------------

class Eps(nn.Module):
    """A network with weights (so grad mode matters) for 2-D points."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x, t):
        return self.lin(torch.cat([x, t[:, None]], 1))


SCHEDULE, X = schedules.VPLinear(), torch.randn(4, 2)
MODEL = Denoiser(Eps(), SCHEDULE)
VE = schedules.VE(0.01, 10.0)


def _pipeline_steps():
    pipe = tiny_pipeline()
    return pipe.denoise_steps(pipe.encode(TOK(PROMPTS)), pipe.noise(2, gen(0)), w=3.0, steps=3)


STARTS = {  # every generator function of the package -> a fresh generator from it
    **{f"{f.__module__}.{f.__qualname__}": (lambda f=f: f(MODEL, X, schedules.uniform_grid(3), schedule=SCHEDULE))
       for f in samplers.SAMPLERS.values()},
    "minidiff.core.samplers.langevin": lambda: samplers.langevin(lambda x: -x, X, 0.1, 3),
    "minidiff.core.samplers.annealed_langevin": lambda: samplers.annealed_langevin(
        Denoiser(Eps(), VE), X, torch.tensor([0.9, 0.5, 0.1]), VE, n_steps_each=2),
    "minidiff.worlds.text2image.guided_steps": lambda: text2image.guided_steps(
        tiny_model(), TOK(PROMPTS), torch.randn(2, 4, 6, 6), w=3.0, steps=3),
    "minidiff.worlds.latent.TextToImage.denoise_steps": _pipeline_steps,  # returns guided_steps' generator
    "minidiff.worlds.ink.random_walk": lambda: ink.random_walk(X, 1.0, 0.1, 3),
    "minidiff.worlds.exact._time_groups": lambda: exact._time_groups(torch.tensor([0.2, 0.5]), X[:2], SCHEDULE),
    "minidiff.core.train._batches": lambda: train._batches(X, 2, None),
    **{f"minidiff.core.inverse.{name}": (lambda name=name: getattr(inverse, name)(
        MODEL, X, schedules.uniform_grid(3), inverse.masked(X, torch.tensor([1.0, 0.0])))) for name in ("replacement", "repaint", "dps")},
    "minidiff.worlds.captions.phrasings": lambda: captions.phrasings(S.Scene("snow", (S.Thing("red", "can", "left"),))),
}


def generator_functions() -> set:
    """The qualified name of every generator function defined in minidiff (module level or in a class)."""
    found = set()
    for info in pkgutil.walk_packages(minidiff.__path__, "minidiff."):
        module = importlib.import_module(info.name)
        for obj in list(vars(module).values()):
            for f in [obj] + (list(vars(obj).values()) if inspect.isclass(obj) else []):
                f = getattr(f, "__func__", f)
                if inspect.isgeneratorfunction(f) and getattr(f, "__module__", "").startswith("minidiff"):
                    found.add(f"{f.__module__}.{f.__qualname__}")
    return found


def test_every_generator_of_the_package_is_in_the_grad_mode_test():
    missing = generator_functions() - set(STARTS)
    assert not missing, f"add these generators to STARTS in tests/test_pipeline.py: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(STARTS))
@pytest.mark.parametrize("mode", [True, False])
def test_every_generator_gives_the_caller_s_grad_mode_back(name, mode):
    steps = STARTS[name]()
    with torch.set_grad_enabled(mode):
        for _ in range(2):
            next(steps)
            assert torch.is_grad_enabled() is mode, f"{name} left grad mode {not mode} in the caller"
    steps.close()


# ---- misuse gets a message ----------------------------------------------------------------------------

@pytest.mark.parametrize("call", ["pipe", "sample", "adherence"])
@pytest.mark.parametrize("kwargs,words,error", [
    (dict(prompts=[]), r"prompts must be a caption or a non-empty list of captions .* got list \[\]", ValueError),
    (dict(prompts=None), r"prompts must be a caption or a non-empty list of captions .* got NoneType", ValueError),
    (dict(prompts=["a red fish", 3]), r"every prompt must be a caption \(a string\), got int 3 at position 1",
     TypeError),
    (dict(n=0), r"n must be a whole number >= 1, got 0", ValueError),
    (dict(n=2.5), r"n must be a whole number >= 1, got 2.5", ValueError),
    (dict(steps=0), r"steps must be a whole number >= 1, got 0", ValueError),
    (dict(steps=-3), r"steps must be a whole number >= 1, got -3", ValueError),
])
def test_bad_requests_are_refused_before_any_sampling(call, kwargs, words, error):
    pipe = tiny_pipeline()
    calls = []
    pipe.denoiser.net.register_forward_hook(lambda *args: calls.append(1))
    args = dict(dict(prompts="a red fish", n=1, steps=2), **kwargs)
    prompts = args.pop("prompts")
    run = {"pipe": lambda: pipe(prompts, **args),
           "sample": lambda: text2image.sample(pipe.denoiser, TOK, prompts, **args),
           "adherence": lambda: text2image.prompt_adherence(pipe.denoiser, TOK, None, prompts, w=3.0, **args)}
    with pytest.raises(error, match=words):
        run[call]()
    assert calls == []


def test_sample_digits_refuses_n_or_steps_below_one():
    model = Denoiser(Eps(), SCHEDULE, sample_shape=(2,))
    with pytest.raises(ValueError, match=r"sample_digits: n must be a whole number >= 1, got 0"):
        pretrained.sample_digits(model, 0, 2)
    with pytest.raises(ValueError, match=r"sample_digits: steps must be a whole number >= 1, got 0"):
        pretrained.sample_digits(model, 2, 0)


# ---- progress and Ctrl-C ------------------------------------------------------------------------------

def test_a_bar_shows_only_past_the_delay_and_counts_every_step(monkeypatch, capsys):
    pipe = tiny_pipeline()
    pipe(PROMPTS, n=1, w=3.0, steps=3, generator=gen(0))  # far below 3 seconds: silent
    assert capsys.readouterr().err == ""
    bars = []

    class Recorded(sampling.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)
    monkeypatch.setattr(sampling, "tqdm", Recorded)
    monkeypatch.setattr(sampling, "PROGRESS_DELAY", 0.0)
    pipe(PROMPTS, n=1, w=3.0, steps=3, generator=gen(0))
    text2image.sample(pipe.denoiser, TOK, PROMPTS, w=3.0, steps=3, batch_size=1, generator=gen(0))
    pretrained.sample_digits(Denoiser(Eps(), SCHEDULE, sample_shape=(2,)), 3, 4, batch_size=2)
    # one bar per call, over every step of every batch, each seen on the terminal
    assert [(bar.desc, bar.n, bar.total) for bar in bars] == [
        ("TextToImage", 3, 3), ("text2image.sample", 6, 6), ("sample_digits", 8, 8)]
    err = capsys.readouterr().err
    assert all(f"{name}:" in err for name in ("TextToImage", "text2image.sample", "sample_digits")), err
    pipe(PROMPTS, n=1, w=3.0, steps=3, generator=gen(0), progress=False)
    assert capsys.readouterr().err == ""


class Interrupted(nn.Module):
    """The tiny text network, which is interrupted (as by Ctrl-C) at its `at`-th call."""

    def __init__(self, net, at: int):
        super().__init__()
        self.net, self.at, self.calls = net, at, 0
        self.encoder, self.null_cond, self.encode = net.encoder, net.null_cond, net.encode

    def forward(self, x, t, cond=None):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.net(x, t, cond)


def test_an_interrupt_propagates_as_itself_and_leaves_nothing_behind():
    pipe = tiny_pipeline()
    expected = pipe(PROMPTS, n=1, w=3.0, steps=4, generator=gen(0))
    net = pipe.denoiser.net
    pipe.denoiser.net = Interrupted(net, at=3)
    with torch.enable_grad(), pytest.raises(KeyboardInterrupt):
        pipe(PROMPTS, n=1, w=3.0, steps=4, generator=gen(0))
    assert torch.is_grad_enabled()  # the caller's grad mode, not the sampler's
    pipe.denoiser.net = net  # the pipeline kept nothing: the next call is as if none had been stopped
    assert torch.equal(pipe(PROMPTS, n=1, w=3.0, steps=4, generator=gen(0)), expected)


def test_ctrl_c_stops_a_long_call_with_a_plain_keyboard_interrupt():
    script = textwrap.dedent("""
        import torch
        from minidiff import latent, scenes, schedules
        from minidiff.core.nets.text_unet import TextUNet
        from minidiff.core.params import Denoiser
        from minidiff.core.text import Tokenizer
        tok = Tokenizer(scenes.vocabulary())
        net = TextUNet(len(tok), channels=(8,), cross_levels=(0,), groups=4, heads=2,
                       encoder=dict(kind="bag", dim=8, max_len=20))
        pipe = latent.TextToImage(tok, Denoiser(net, schedules.VPLinear(), sample_shape=(3, 4, 4)))
        print("sampling", flush=True)
        pipe("a red fish", n=1, w=3.0, steps=100_000)  # minutes, were it not stopped
    """)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # SIGINT as in a terminal: pytest-xdist's workers ignore it, and an ignored signal stays ignored in a child
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline().strip() == "sampling"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert err.rstrip().splitlines()[-1] == "KeyboardInterrupt", err[-2000:]
    assert "During handling of the above exception" not in err, err[-2000:]
