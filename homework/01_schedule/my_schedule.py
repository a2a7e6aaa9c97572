"""Homework 1: a noise schedule of your own, measured against the cosine one.

Lesson 03 met three schedules: VPLinear, VPCosine and VE (minidiff/core/schedules.py). Write a fourth as a
subclass of `schedules.Schedule`. The base class needs alpha(t) and sigma(t) for a tensor t in [0, 1]
(it checks t and turns numbers into tensors before your method sees them); everything else (alpha_bar,
snr, log_snr, the derivatives, t_from_log_snr) follows from those two, and you may override any of
them with an exact formula, as VPCosine does. The grader checks what every variance-preserving
schedule must satisfy and then measures yours against VPCosine on the 8-Gaussian ring:

    make homework ASSIGNMENT=01_schedule

A suggestion, if you want one: the sigmoid schedule (Jabri et al. 2022, "Scalable adaptive computation
for iterative generation", section 3.2; Chen 2023, "On the importance of noise scheduling for diffusion
models", Algorithm 1):

    v(t) = sigmoid((start + t (end - start)) / tau)
    alpha_bar(t) = (v(1) - v(t)) / (v(1) - v(0))        start = -3, end = 3, tau = 1 are good defaults

alpha = sqrt(alpha_bar) and sigma = sqrt(1 - alpha_bar). Look at its two ends: what is alpha(1), and
what does a sampler that starts at t = 1 do with it? (VPCosine's docstring meets the same problem.)
Other choices are welcome: the shifted cosine of Hoogeboom et al. 2023 ("simple diffusion"), a
log-SNR linear in t (Kingma et al. 2021), the Laplace schedule of Hang et al. 2024.

Work in float64 and float32 alike: use torch functions of t (torch.sigmoid, torch.log, ...), which keep
t's dtype; plain Python numbers (self.start, math.pi) mix in without changing it.
"""

import torch

from minidiff import schedules


class MySchedule(schedules.Schedule):
    """Your schedule. MySchedule() (no arguments) is what the grader builds, so give every argument a default."""

    def __init__(self):
        pass  # keep your parameters as float attributes (self.tau = 1.0): Schedule.config and repr show them

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        """The signal's scale at time t: 1 at t = 0 (clean data), near 0 at t = 1 (but above it)."""
        raise NotImplementedError

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        """The noise's scale at time t: alpha^2 + sigma^2 = 1 (variance preserving)."""
        raise NotImplementedError
