"""Homework 2: a second-order sampler of your own, measured on the NFE benchmark.

Lesson 08 met DDIM (Euler's method, first order: halve the step and the error halves) and Heun's
method (second order: halve the step and the error falls four times, for two network calls a step).
Write another second-order solver of the probability-flow ODE as a sampler with minidiff's signature
and contract (the docstring of minidiff/core/samplers.py), so that everything that runs a minidiff sampler
can run yours:

    make homework ASSIGNMENT=02_sampler

Some choices (any second-order method passes):
- the explicit midpoint rule on the ODE that samplers.heun solves, dy/ds = eps_hat(x, t) in
  y = x / alpha and s = sigma / alpha (Karras et al. 2022, Algorithm 1): a half step of Euler to
  the middle noise level, then the whole step with the slope found there;
- Ralston's method (the same, with the slope at 2/3 of the step, weighted 1/4 and 3/4);
- DPM-Solver-2 (Lu et al. 2022, Algorithm 1 with r1 = 1/2): the midpoint in lambda = log(alpha /
  sigma), with the linear part of the ODE solved exactly.
A time between two grid times is the schedule's: t = schedule.t_from_log_snr(-2 log s), since
log-SNR = log(alpha^2 / sigma^2) = -2 log s. The model is called as model(x, t) with t a (B,)
tensor (samplers.predict(model, x, t) does that for one time); its answer has .eps and .x0. Call
nothing else on it: a guidance wrapper or a call counter stands in its place.
"""

from typing import Iterator

import torch

from minidiff import samplers
from minidiff.core.schedules import Schedule


@torch.no_grad()
def my_sampler(model, x: torch.Tensor, ts, schedule: Schedule,
               generator: torch.Generator | None = None) -> Iterator[samplers.Step]:
    """Step from ts[0] down to ts[-1] (a decreasing grid, e.g. schedules.karras_grid(n, schedule)), yielding
    samplers.Step(t=ts[i + 1] as a float, x=the sample there, x0=the latest denoised estimate) after each step.
    Check the inputs first with samplers.check_grid(ts, x, schedule, "my_sampler"); never change x in place;
    generator is unused (the method is deterministic), but part of the signature every sampler shares."""
    raise NotImplementedError


def steps_for_nfe(nfe: int) -> int:
    """The most steps that `my_sampler` can take with `nfe` network calls (at least 1): nfe for a method with
    one call per step; what is it for yours? The benchmark gives every sampler the same budget of calls."""
    raise NotImplementedError
