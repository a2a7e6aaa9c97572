"""The lessons' worlds: the data each lesson plays in, what is known about it exactly, the models
trained on it and how a sample of it is scored.

toy and exact (2-D mixtures and their closed-form scores), ink (random walks and heat), data (real
digits), captions, scenes and reader (the captioned scenes and the network that reads them), gan,
metrics, registry and pretrained (the shipped models), text2image and latent (the text pipelines). It
imports from core/, never from course/.
"""
