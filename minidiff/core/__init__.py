"""The core: diffusion itself, for any data. A new project would take this folder and nothing else.

schedules (alpha, sigma), params (what a network predicts; the Denoiser), forward (noising), losses,
sde, sampling and samplers (the reverse loops), guidance, likelihood, inverse (solving inverse problems
with a trained denoiser), train (the one training loop), checkpoints (files), text (tokens to vectors),
nets (the networks). It imports nothing from worlds/ or course/.
"""
