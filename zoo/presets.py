"""Named setups: plain dicts of a model's constructor arguments."""

PRESETS = {
    "dcgan_fashion_mnist": ("dcgan", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64}),
    "lsgan_fashion_mnist": ("lsgan", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64}),
    "sngan_fashion_mnist": ("sngan", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64}),
    "wgan_gp_fashion_mnist": ("wgan_gp", {"image_shape": (28, 28, 1), "latent_dim": 64, "width": 64, "critic_steps": 5, "gp_weight": 10.0}),
    "beta_vae_fashion_mnist": ("beta_vae", {"image_shape": (28, 28, 1), "latent_dim": 16, "width": 32, "beta": 4.0}),
    "vae_fashion_mnist": ("vae", {"image_shape": (28, 28, 1), "latent_dim": 16, "width": 32}),
}


def preset(name):
    """Returns `(model_name, constructor_arguments)` of a preset."""
    try:
        model_name, arguments = PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown preset {name!r}; choose one of: {', '.join(sorted(PRESETS))}"
        ) from None
    return model_name, dict(arguments)
