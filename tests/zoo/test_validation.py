"""Every constructor argument of every registered model is validated.

Two tables, keyed by argument name: values a new user might try that cannot
work (each must raise a ValueError naming the value and saying what to use),
and the accepted values at the edges (each must build and train a step). The
arguments come from `zoo.registry.constructor_arguments`, so a new argument
without entries in both tables fails `test_every_argument_has_cases`.
"""

import inspect
import json

import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import tiny_images
from zoo.flow import FlowMatching
from zoo.gan import GAN
from zoo.registry import constructor_arguments

NAN, INF = float("nan"), float("inf")

#: argument -> [(bad value, regex the ValueError must match)].
BAD = {
    "image_shape": [
        ((27, 27, 1), r"image_shape=\(27, 27, 1\) cannot be built .* e\.g\. \(28, 28, 1\)"),
        ((6, 6, 1), r"image_shape=\(6, 6, 1\) cannot be built .* e\.g\. \(8, 8, 1\)"),
        ((31, 64, 3), r"image_shape=\(31, 64, 3\) cannot be built .* e\.g\. \(32, 64, 3\)"),
        ((16, 16, 2), r"image_shape=\(16, 16, 2\): 2 channels; use 1 \(grayscale\) or 3 \(RGB\)"),
        ((16, 16, 4), r"image_shape=\(16, 16, 4\): 4 channels; .* e\.g\. \(16, 16, 3\)"),
        ("16,16,1", r"image_shape='16,16,1'; use a tuple \(height, width, channels\)"),
        ((16, 16), r"image_shape=\(16, 16\); use a tuple \(height, width, channels\)"),
        ((16, 16.5, 1), r"image_shape=\(16, 16\.5, 1\); use positive integers"),
        ((0, 16, 1), r"image_shape=\(0, 16, 1\); use positive integers"),
    ],
    "latent_dim": [
        (0, r"latent_dim=0; use an integer >= 1"),
        (8.5, r"latent_dim=8\.5; use an integer >= 1"),
        ("8", r"latent_dim='8'; use an integer"),
        (True, r"latent_dim=True; use an integer"),
        (None, r"latent_dim=None; use an integer"),
    ],
    "width": [
        (0, r"width=0; use an integer >= 1"),
        (8.5, r"width=8\.5; use an integer"),
        ("8", r"width='8'; use an integer"),
        (False, r"width=False; use an integer"),
    ],
    "seed": [
        (1.5, r"seed=1\.5; use an integer .* or None"),
        ("0", r"seed='0'; use an integer"),
        (True, r"seed=True; use an integer"),
        (2**64, r"seed=18446744073709551616; use an integer \(64-bit"),
    ],
    "r1_weight": [
        (-1.0, r"r1_weight=-1\.0; use a weight >= 0 \(0 is off\)"),
        (NAN, r"r1_weight=nan; use a weight >= 0"),
        ("1", r"r1_weight='1'; use a weight"),
        (True, r"r1_weight=True; use a weight"),
    ],
    "label_smoothing": [
        (1.0, r"label_smoothing=1\.0; use a value in \[0, 1\)"),
        (-0.1, r"label_smoothing=-0\.1; use a value in \[0, 1\)"),
        (NAN, r"label_smoothing=nan; use a value in \[0, 1\)"),
    ],
    "latent_prior": [
        ("laplace", r"latent_prior='laplace'; use one of normal, uniform, truncated_normal"),
        (None, r"latent_prior=None; use one of"),
    ],
    "minibatch_stddev": [
        ("no", r"minibatch_stddev='no'; use True or False"),
        (1, r"minibatch_stddev=1; use True or False"),
    ],
    "pack": [
        (0, r"pack=0; use an integer >= 1 \(1 is off\)"),
        (1.5, r"pack=1\.5; use an integer >= 1"),
        ("2", r"pack='2'; use an integer"),
    ],
    "ema_decay": [
        (1.0, r"ema_decay=1\.0; use a decay in \[0, 1\)"),
        (-0.1, r"ema_decay=-0\.1; use a decay in \[0, 1\)"),
        (INF, r"ema_decay=inf; use a decay"),
    ],
    "diffaugment": [
        ("flip", r"diffaugment='flip': unknown \['flip'\]; use a comma list of color, translation, cutout"),
        (["color"], r"diffaugment=\['color'\]; use a comma list .* e\.g\. 'color,translation'"),
        ("color,color", r"diffaugment='color,color' repeats an operation"),
        (None, r"diffaugment=None; use a comma list"),
    ],
    "critic_steps": [
        (0, r"critic_steps=0; use an integer >= 1 \(paper: 5\)"),
        (2.5, r"critic_steps=2\.5; use an integer >= 1"),
    ],
    "gp_weight": [
        (-1, r"gp_weight=-1; use a weight >= 0 \(paper: 10\)"),
        (NAN, r"gp_weight=nan; use a weight >= 0"),
        ("10", r"gp_weight='10'; use a weight"),
    ],
    "beta": [
        (0, r"beta=0; use a positive weight"),
        (-1.0, r"beta=-1\.0; use a positive weight"),
        (INF, r"beta=inf; use a positive weight"),
    ],
    "second_width": [
        (0, r"second_width=0; use an integer >= 1"),
        (2.5, r"second_width=2\.5; use an integer >= 1"),
    ],
    "second_depth": [
        (0, r"second_depth=0; use an integer >= 1"),
        (None, r"second_depth=None; use an integer >= 1"),
    ],
    "gp_interval": [
        (0, r"gp_interval=0; use an integer >= 1 \(1: every critic update"),
        (1.5, r"gp_interval=1\.5; use an integer >= 1"),
    ],
    "gp_batch_shrink": [
        (0, r"gp_batch_shrink=0; use an integer >= 1 \(1: the whole batch"),
        ("2", r"gp_batch_shrink='2'; use an integer >= 1"),
    ],
    "architecture": [
        ("stylegan", r"architecture='stylegan'; use one of 'dcgan', 'keras_io'"),
        (None, r"architecture=None; use one of 'dcgan', 'keras_io'"),
    ],
    "joint_discriminator_pass": [
        ("yes", r"joint_discriminator_pass='yes'; use True or False"),
        (1, r"joint_discriminator_pass=1; use True or False"),
    ],
    "synchronized_batch_norm": [
        ("no", r"synchronized_batch_norm='no'; use True or False"),
        (None, r"synchronized_batch_norm=None; use True or False"),
    ],
    "steps": [
        (0, r"steps=0; use a number of ODE steps >= 1"),
        (1001, r"steps=1001; use at most 1000 ODE steps"),
        (2.5, r"steps=2\.5; use a number of ODE steps"),
    ],
    "solver": [
        ("rk4", r"solver='rk4'; use one of 'euler', 'heun'"),
        (None, r"solver=None; use one of"),
    ],
    "attention": [
        ("yes", r"attention='yes'; use True or False"),
    ],
    "normalization": [
        ("batch", r"normalization='batch'; use one of 'group', 'none'"),
        (None, r"normalization=None; use one of 'group', 'none'"),
    ],
    "blocks": [
        (3, r"blocks=3; use 1 or 2 \(residual blocks per stage"),
        (0, r"blocks=0; use 1 or 2"),
        (1.5, r"blocks=1\.5; use 1 or 2"),
    ],
    "teacher": [
        (5, r"teacher=5; use the path of a flow's .keras file or run folder"),
        ("no/such/flow.keras", r"no model file at 'no/such/flow.keras'"),
    ],
    "teacher_solver": [
        ("rk4", r"solver='rk4'; use one of 'euler', 'heun'"),
    ],
    "guidance": [
        (-1.0, r"guidance=-1\.0; use a guidance scale >= 0 \(1 is off\)"),
        ("2", r"guidance='2'; use a guidance scale"),
    ],
    "num_classes": [
        (1, r"num_classes=1; use an integer >= 2"),
        (2.5, r"num_classes=2\.5; use an integer >= 2"),
        (True, r"num_classes=True; use an integer >= 2"),
    ],
}

#: Values valid alone that a model cannot use: (model, argument, value, regex).
BAD_FOR_MODEL = [
    ("flow", "latent_dim", 8, r"latent_dim=8: a flow's latent is a noise image of image_shape \(256 values\)"),
    ("flow", "latent_dim", 0, r"latent_dim=0: a flow's latent is a noise image"),
    ("flow", "guidance", 2.0, r"guidance=2\.0: classifier-free guidance needs a conditional flow"),
    ("lsgan", "label_smoothing", 0.1, r"label_smoothing applies to the non-saturating loss .* LSGAN"),
    ("sngan", "label_smoothing", 0.1, r"label_smoothing applies to the non-saturating loss .* SNGAN"),
    ("wgan_gp", "label_smoothing", 0.1, r"label_smoothing applies to the non-saturating loss .* WGANGP"),
    ("cgan", "pack", 2, r"pack=2: PacGAN packing would mix the labels"),
    ("cgan", "architecture", "keras_io", r"architecture='keras_io' does not take num_classes=10"),
    ("sngan", "architecture", "keras_io", r"does not take spectral normalisation \(sngan\)"),
    ("dcgan", "joint_discriminator_pass", True, r"real and fake .* batch-norm discriminator \(DCGAN\)"),
]

#: argument -> accepted values at the edges (and in other types that mean the same).
EDGES = {
    "image_shape": [(8, 8, 1), (10, 14, 3), [12, 16, 1.0]],  # smallest; odd bases; non-square
    "latent_dim": [1, 8.0, np.int64(3)],
    "width": [1, 2.0, np.int32(3)],
    "seed": [None, -1, np.int64(2**63 - 1)],
    "r1_weight": [0, 10],
    "label_smoothing": [0, 0.99],
    "latent_prior": ["normal", "uniform", "truncated_normal"],
    "minibatch_stddev": [False, True, np.True_],
    "pack": [1, 2],
    "ema_decay": [0, 0.9999, 0.5],
    "diffaugment": ["", "color,translation,cutout", " cutout , color "],
    "critic_steps": [1, 2.0],
    "gp_weight": [0, 0.5],
    "beta": [1e-3, 100],
    "second_width": [1, 3.0],
    "second_depth": [1, np.int64(3)],
    "num_classes": [2, 10.0, np.int64(3)],
    "steps": [1, 1000, 3.0],
    "solver": ["euler", "heun"],
    "attention": [False, True, np.True_],
    "normalization": ["group", "none"],
    "blocks": [1, 2, np.int64(1)],
    "guidance": [1, 0.0, 7.5],
    "teacher": [None],  # a teacher file: tests/zoo/test_flow.py
    "teacher_solver": ["euler", "heun"],  # other than 1 only for a conditional flow
    "gp_interval": [1, 3],
    "gp_batch_shrink": [1, 2],
    "architecture": ["dcgan", "keras_io"],
    "joint_discriminator_pass": [False, True],
    "synchronized_batch_norm": [False, True, np.True_],
}
EDGE_CONFIGS = max(len(values) for values in EDGES.values())


def _taker(cls, argument):
    """The class whose constructor takes `argument` by name, and so checks it: the most derived one."""
    return next(klass for klass in cls.__mro__
                if "__init__" in vars(klass) and argument in inspect.signature(klass.__init__).parameters)


def _bad_cases():
    """Each bad value once per constructor that checks it, on the first registered model using that one."""
    checked = set()
    for name in zoo.names():
        for argument in constructor_arguments(zoo.get(name)):
            taker = _taker(zoo.get(name), argument)
            if (taker, argument) in checked or (argument == "latent_dim" and issubclass(taker, FlowMatching)):
                continue  # a flow's latent_dim is fixed by its image shape: BAD_FOR_MODEL
            checked.add((taker, argument))
            for value, pattern in BAD.get(argument, []):
                yield pytest.param(name, argument, value, pattern, id=f"{name}-{argument}={value!r}")
    for name, argument, value, pattern in BAD_FOR_MODEL:
        yield pytest.param(name, argument, value, pattern, id=f"{name}-{argument}={value!r}")


def test_every_argument_has_cases():
    arguments = {argument for name in zoo.names() for argument in constructor_arguments(zoo.get(name))}
    assert not arguments - set(BAD), "add bad values to BAD"
    assert not arguments - set(EDGES), "add accepted edge values to EDGES"


@pytest.mark.parametrize("name, argument, value, pattern", list(_bad_cases()))
def test_bad_argument_is_refused_with_a_message_naming_it(name, argument, value, pattern):
    with pytest.raises(ValueError, match=pattern):
        zoo.create(name, **{**zoo.get(name).TINY_CONFIG, argument: value})


def _edge_config(cls, k):
    """The k-th combination of edge values for `cls`, leaving out those its game refuses."""
    config = {}
    for argument, default in constructor_arguments(cls).items():
        value = EDGES[argument][k % len(EDGES[argument])]
        if argument == "label_smoothing" and cls.discriminator_loss is not GAN.discriminator_loss:
            value = default
        if argument == "pack" and "num_classes" in constructor_arguments(cls):
            value = default
        if argument == "image_shape" and issubclass(cls, FlowMatching):  # the U-Net halves its sides twice
            value = tuple(4 * -(-int(side) // 4) for side in value[:2]) + (value[2],)
        if argument == "guidance" and "num_classes" not in constructor_arguments(cls):
            value = default  # classifier-free guidance needs classes (BAD_FOR_MODEL)
        if default is None and argument == "latent_dim":  # a latent the image shape fixes (a flow's noise image)
            value = default
        config[argument] = value
    # Combinations the networks cannot take (each refused in BAD_FOR_MODEL).
    spectral = getattr(cls, "discriminator_normalization", None) == "spectral"
    if config.get("architecture") == "keras_io" and (
            config.get("num_classes") or config.get("minibatch_stddev") or spectral):
        config["architecture"] = "dcgan"
    batch_norm = getattr(cls, "discriminator_normalization", None) == "batch" and config.get("architecture") == "dcgan"
    if config.get("joint_discriminator_pass") and (batch_norm or config.get("minibatch_stddev") or config["pack"] > 1):
        config["joint_discriminator_pass"] = False
    return config


@pytest.mark.parametrize("k", range(EDGE_CONFIGS))
def test_accepted_edge_values_build_and_train_a_step(model_name, k):
    cls = zoo.get(model_name)
    config = _edge_config(cls, k)
    model = zoo.create(model_name, **config)
    # Stored in plain types, so the config is JSON and round-trips.
    stored = model.get_config()
    json.dumps(stored)
    assert type(model).from_config(stored).get_config() == stored
    assert model.image_shape == tuple(int(side) for side in config["image_shape"])
    if (model.contract.sampling_steps or 0) > 64:
        # Unrolled (or run eagerly), a thousand steps take minutes; the edge count runs as a loop in a
        # graph instead, as the SavedModel's `generate_steps` runs it.
        labels = [0] if model.num_classes else None
        steps = tf.constant(model.contract.sampling_steps)

        @tf.function
        def generate(z):
            return model.generate(z, labels, steps=steps)

        assert tuple(generate(model.latents([0])).shape) == (1, *model.image_shape)
    else:
        assert tuple(model.sample(1).shape) == (1, *model.image_shape)

    model.compile(**model.default_optimizers(), run_eagerly=True)  # one step: no trace needed
    labels = np.arange(4) % max(model.num_classes, 1)
    history = model.fit(tiny_images(model, n=4), labels, batch_size=4, epochs=1, verbose=0).history
    assert history and all(np.isfinite(v).all() for v in history.values()), (config, history)
