"""Generative image models as Keras 3 models.

Every model is a subclassed `keras.Model` with its own `train_step`, trained
with `model.fit`, and exposes the same small surface: `generator` (latent ->
image functional model), `sample(n, seed=...)`, `latent_dim`, `image_shape`
and `pixel_range`; VAEs also have `encoder`. Conditional models (`cgan`,
`cvae`) have `num_classes` > 0 and take class labels.
"""

__version__ = "0.1.0"

from zoo import (
    conditional,  # noqa: F401  (registers cgan, cvae)
    flow,  # noqa: F401  (registers flow, cflow)
    gan,  # noqa: F401  (registers dcgan, lsgan, sngan)
    shipped,
    vae,  # noqa: F401  (registers vae, beta_vae, two_stage_vae)
    wgan,  # noqa: F401  (registers wgan_gp)
)
from zoo.conditional import ConditionalGAN, ConditionalVAE
from zoo.flow import ConditionalFlowMatching, DistilledFlow, FlowMatching
from zoo.gan import DCGAN, GAN, LSGAN, SNGAN
from zoo.latents import latents_from_seeds
from zoo.presets import PRESETS, preset, preset_learning_rates
from zoo.registry import create, get, load, names
from zoo.vae import VAE, BetaVAE, TwoStageVAE
from zoo.wgan import WGANGP

__all__ = [
    "BetaVAE",
    "ConditionalFlowMatching",
    "DistilledFlow",
    "ConditionalGAN",
    "ConditionalVAE",
    "DCGAN",
    "FlowMatching",
    "GAN",
    "LSGAN",
    "SNGAN",
    "PRESETS",
    "TwoStageVAE",
    "VAE",
    "WGANGP",
    "create",
    "get",
    "latents_from_seeds",
    "load",
    "names",
    "preset",
    "preset_learning_rates",
    "shipped",
]
