"""Class-conditional models: the class label is an input of the generator.

Both reuse their family's training loop unchanged: the loops pass the batch's
labels to the networks whenever `num_classes` > 0, and the networks of
`zoo.networks` take `[x, label]` inputs when built with classes. So they
log what their family logs: `cgan` a GAN's `loss` = `d_loss` + `g_loss`,
`cvae` a VAE's `loss` (the whole objective), `reconstruction_loss` and
`kl_loss`.
"""

from zoo.base import check_integer
from zoo.gan import DCGAN
from zoo.registry import register
from zoo.vae import VAE


def check_num_classes(num_classes):
    """`num_classes` as an int >= 2."""
    return check_integer("num_classes", num_classes, 2, "an integer >= 2 (the dataset's classes)")


@register("cgan")
class ConditionalGAN(DCGAN):
    """Class-conditional GAN: label embedding in G, projection discriminator.

    The generator concatenates a learned embedding of the label to `z`; the
    discriminator adds the inner product of a learned label embedding with
    its features to its unconditional score (projection discriminator), so
    it judges "is this a real image of this class". Fakes of each step are
    generated for the real batch's labels. Trains with DCGAN's
    non-saturating loss and settings; every GAN option (R1, EMA,
    DiffAugment, ...) applies except PacGAN packing, which would mix labels.

    Args:
        num_classes: number of classes; labels are ints in `[0, num_classes)`.
        **kwargs: `GAN` arguments.

    Example:
        >>> model = ConditionalGAN(image_shape=(28, 28, 1), num_classes=10)
        >>> model.compile(**model.default_optimizers())
        >>> model.fit(training.data.load("fashion_mnist", model=model), epochs=1)
        >>> sneakers = model.sample(16, labels=7)

    References:
        Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014;
        Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018.
    """

    def __init__(self, *args, num_classes=10, **kwargs):
        # Set before the base constructor, which builds the networks.
        self.num_classes = check_num_classes(num_classes)
        super().__init__(*args, **kwargs)

    def _check_options(self):
        super()._check_options()
        if self.pack != 1:
            raise ValueError(
                f"pack={self.pack}: PacGAN packing would mix the labels of packed images; "
                "conditional GANs use pack=1."
            )

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        return config


@register("cvae")
class ConditionalVAE(VAE):
    """Conditional VAE: the label is an input of both encoder and decoder.

    The encoder models q(z | x, y) and the decoder p(x | z, y), so `z` is
    free to hold what the class does not (style, thickness, pose) and the
    decoder draws any class from any `z`.

    Args:
        num_classes: number of classes; labels are ints in `[0, num_classes)`.
        **kwargs: `VAE` arguments.

    Example:
        >>> model = ConditionalVAE(image_shape=(28, 28, 1), num_classes=10)
        >>> model.compile(**model.default_optimizers())
        >>> model.fit(training.data.load("fashion_mnist", model=model), epochs=1)
        >>> trousers = model.sample(16, labels=1)

    References:
        Sohn et al., "Learning Structured Output Representation using Deep
        Conditional Generative Models", NeurIPS 2015.
    """

    def __init__(self, *args, num_classes=10, **kwargs):
        self.num_classes = check_num_classes(num_classes)
        super().__init__(*args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        return config
