"""Flow matching: its loss by hand, its ODE solvers on velocities with known solutions, its options."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import zoo
from tests.conftest import tiny_images, tiny_model
from zoo import losses


def test_the_loss_is_the_squared_error_against_the_straight_path_velocity():
    noise = np.array([[0.0, 1.0]], "float32")
    images = np.array([[1.0, 1.0]], "float32")
    # The path's velocity is images - noise = [1, 0]; predicting [1, 1] misses by [0, 1].
    assert float(losses.flow_matching_loss(noise, images, np.array([[1.0, 1.0]], "float32"))) == 0.5
    assert float(losses.flow_matching_loss(noise, images, np.array([[1.0, 0.0]], "float32"))) == 0.0
    # A quarter of the way: 0.75 * noise + 0.25 * images.
    np.testing.assert_allclose(losses.flow_interpolation(noise, images, 0.25), [[0.25, 1.0]])


class _Velocity:
    """A velocity field `v(x, t) = field(x, t)` standing in for the network; counts its calls."""

    def __init__(self, field):
        self.field, self.calls = field, 0

    def __call__(self, inputs, training=False):
        self.calls += 1
        x, t = inputs[0], inputs[1]
        return self.field(x, ops.reshape(t, (-1, 1, 1, 1)))


def _flow_with(field, **options):
    model = zoo.create("flow", **{**zoo.get("flow").TINY_CONFIG, "ema_decay": 0.0, **options})
    velocity = _Velocity(field)
    object.__setattr__(model, "velocity_network", velocity)  # what `generate` calls
    return model, velocity


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_euler_and_heun_solve_dx_dt_equals_t_as_their_order_says(steps):
    z = np.full((1, 16, 16, 1), -0.5, "float32")
    euler, calls = _flow_with(lambda x, t: ops.zeros_like(x) + t)
    # x(1) = x(0) + 1/2; Euler's left sums give x(0) + (steps - 1) / (2 steps).
    np.testing.assert_allclose(euler.generate(z, steps=steps), z + (steps - 1) / (2 * steps), atol=1e-6)
    assert calls.calls == steps
    heun, calls = _flow_with(lambda x, t: ops.zeros_like(x) + t, solver="heun")
    np.testing.assert_allclose(heun.generate(z, steps=steps), z + 0.5, atol=1e-6)  # exact on linear v
    assert calls.calls == 2 * steps


def test_a_straight_path_velocity_lands_on_its_end_in_one_step():
    target = 0.3
    model, _ = _flow_with(lambda x, t: (target - x) / (1.0 - t))  # the straight line to `target`
    z = np.random.default_rng(0).normal(size=(2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(model.generate(z, steps=1), np.full_like(z, target), atol=1e-6)


def _random_weights(name, **overrides):
    """A tiny model whose velocity weights (trained and average, each its own draw) are random, not
    the zero-initialised output a fresh flow has: its samples depend on every option without a `fit`."""
    model = tiny_model(name, **overrides)
    rng = np.random.default_rng(0)
    for network in (model.velocity_network, model.ema_velocity):
        for weight in network.weights if network is not None else ():
            weight.assign(rng.normal(0.0, 0.2, weight.shape).astype(weight.dtype))
    return model


def test_the_steps_are_unrolled_in_the_graph():
    model = tiny_model("flow")
    graph = tf.function(lambda z: model.generate(z, steps=3)).get_concrete_function(
        tf.TensorSpec((1, *model.latent_shape), tf.float32)).graph
    kinds = {op.type for op in graph.get_operations()}
    assert not kinds & {"While", "StatelessWhile"}
    assert model.contract.sampling_steps == 2 and model.contract.latent_shape == model.image_shape


def test_sample_takes_steps_and_solver_and_the_default_is_the_models():
    model = _random_weights("flow")
    default = model.sample(3, seed=7).numpy()
    np.testing.assert_array_equal(default, model.sample(3, seed=7, steps=2, solver="euler"))
    assert not np.array_equal(default, model.sample(3, seed=7, steps=5))
    assert not np.array_equal(default, model.sample(3, seed=7, solver="heun"))


def test_guidance_mixes_the_no_class_velocity_in():
    model = _random_weights("cflow")
    plain = model.sample(4, seed=1, labels=[0, 1, 2, 0]).numpy()
    np.testing.assert_array_equal(plain, model.sample(4, seed=1, labels=[0, 1, 2, 0], guidance=1.0))
    assert not np.array_equal(plain, model.sample(4, seed=1, labels=[0, 1, 2, 0], guidance=3.0))
    # Guidance 0 is the unconditional velocity: the label no longer matters.
    np.testing.assert_array_equal(model.sample(2, seed=1, labels=[0, 0], guidance=0.0),
                                  model.sample(2, seed=1, labels=[1, 2], guidance=0.0))


@pytest.mark.parametrize("options, message", [
    ({"steps": 0}, r"steps=0; use a number of ODE steps >= 1"),
    ({"steps": 1001}, r"steps=1001; use at most 1000"),
    ({"solver": "rk4"}, r"solver='rk4'; use one of 'euler', 'heun'"),
    ({"guidance": 2.0}, r"FlowMatching has no sampler option guidance"),
])
def test_bad_sampling_options_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        tiny_model("flow").sample(1, **options)


def test_options_of_other_families_samplers_are_refused():
    with pytest.raises(ValueError, match=r"DCGAN has no sampler option steps; its sampler options: none"):
        tiny_model("dcgan").sample(1, steps=4)
    with pytest.raises(ValueError, match=r"no sampler option guidance; its sampler options: solver, steps"):
        tiny_model("flow").with_sampling(guidance=2.0)


def test_the_contract_lists_the_sampler_options_and_with_sampling_changes_their_defaults():
    model = _random_weights("cflow")
    assert model.contract.sampling_options == {"steps": 2, "solver": "euler", "guidance": 1.0}
    assert tiny_model("flow").contract.sampling_options == {"steps": 2, "solver": "euler"}
    assert tiny_model("dcgan").contract.sampling_options == {} and tiny_model("dcgan").with_sampling() is not None
    other = model.with_sampling(steps=3, solver="heun", guidance=2.0)
    assert other.contract.sampling_steps == 3
    assert other.contract.sampling_options == {"steps": 3, "solver": "heun", "guidance": 2.0}
    labels = [0, 1, 2]
    np.testing.assert_array_equal(other.sample(3, seed=4, labels=labels),
                                  model.sample(3, seed=4, labels=labels, steps=3, solver="heun", guidance=2.0))
    # A copy: training it leaves the original as it was.
    before = model.sample(3, seed=4, labels=labels).numpy()
    other.velocity_network.weights[0].assign(other.velocity_network.weights[0] + 1.0)
    np.testing.assert_array_equal(before, model.sample(3, seed=4, labels=labels))
    assert model.with_sampling() is model


def test_a_tensor_step_count_loops_in_the_graph_and_matches_the_unrolled_steps():
    model = _random_weights("cflow", solver="heun")  # Heun: two velocity calls per step inside the loop
    z, labels = model.latents(range(3)), tf.constant([0, 1, 2])
    looped = tf.function(lambda z, steps: model.generate(z, labels, steps=steps))
    graph = looped.get_concrete_function(tf.TensorSpec(z.shape, tf.float32), tf.TensorSpec((), tf.int32)).graph
    assert {op.type for op in graph.get_operations()} & {"While", "StatelessWhile"}
    for steps in (1, 3):
        np.testing.assert_allclose(looped(z, tf.constant(steps)), model.generate(z, labels, steps=steps), atol=1e-6)


@pytest.mark.parametrize("config, message", [
    ({"latent_dim": 8}, r"latent_dim=8: a flow's latent is a noise image of image_shape \(256 values\)"),
    ({"image_shape": (18, 18, 1)}, r"divisible by 4, e.g. \(20, 20\)"),
])
def test_the_constructor_refuses_what_the_network_cannot_be(config, message):
    with pytest.raises(ValueError, match=message):
        zoo.create("flow", **{**zoo.get("flow").TINY_CONFIG, **config})


def test_a_norm_free_block_starts_as_the_identity_and_one_block_per_stage_is_lighter():
    def network(**options):
        tiny = {**zoo.get("flow").TINY_CONFIG, "normalization": "group", "blocks": 2}
        return zoo.create("flow", **{**tiny, **options}).velocity_network

    def layer_names(net, kind):
        return sorted(layer.name for layer in net.layers if isinstance(layer, kind))

    full, free, light = network(), network(normalization="none"), network(blocks=1)
    norms = keras.layers.GroupNormalization
    assert len(layer_names(full, norms)) == 2 * 11 + 1 and not layer_names(free, norms)
    for layer in free.layers:
        if layer.name.endswith("_conv2"):  # each residual branch starts at zero: the block is the identity
            assert not np.any(layer.kernel.numpy())
    # DDPM's layout: 3 down, 2 middle, 2 per resolution up; one block of each: 3 down, 1 middle, 1 up.
    blocks = [name[:-len("_conv1")] for name in layer_names(light, keras.layers.Conv2D) if name.endswith("_conv1")]
    assert sorted(blocks) == ["down0", "down1", "down2", "middle1", "up0_0", "up1_0", "up2_0"]
    assert light.count_params() < 0.8 * full.count_params()
    model = tiny_model("flow", normalization="group", blocks=2)
    model.fit(tiny_images(model), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(model.sample(2, seed=0)).all()


def test_sampling_uses_the_average_and_without_average_the_trained_weights():
    model = tiny_model("flow", ema_decay=0.5)
    model.fit(tiny_images(model), batch_size=4, epochs=1, verbose=0)
    trained = model.without_average()
    assert trained.ema_decay == 0.0 and trained.ema_velocity is None
    for a, b in zip(trained.velocity_network.weights, model.velocity_network.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(trained.sample(2, seed=0), model.sample(2, seed=0))
    average = model.average_only()
    assert average.ema_decay == 0.0 and average.ema_velocity is None
    np.testing.assert_array_equal(average.sample(2, seed=0), model.sample(2, seed=0))


def _saved_teacher(tmp_path, name="flow", **overrides):
    teacher = _random_weights(name, **overrides)
    path = tmp_path / f"{name}.keras"
    teacher.save(path)
    return teacher, path


@pytest.mark.parametrize("solver, expected", [("euler", 0.25), ("heun", 0.5)])
def test_a_distilled_step_targets_two_teacher_steps(tmp_path, solver, expected):
    _, path = _saved_teacher(tmp_path)
    student = zoo.create("distilled_flow", teacher=str(path), steps=2, teacher_solver=solver)
    object.__setattr__(student, "teacher_velocity", _Velocity(lambda x, t: ops.zeros_like(x) + t))
    x = np.zeros((2, 16, 16, 1), "float32")
    t = np.array([[0.0], [0.5]], "float32")
    # Two steps of h / 2 = 1/4 on dx/dt = t: Euler's left sums give t + h / 4, Heun the exact t + h / 2.
    target = student.teacher_target(x, t)
    np.testing.assert_allclose(target[:, 0, 0, 0], t[:, 0] + expected * 0.5, atol=1e-6)


def test_the_student_starts_as_its_teachers_sampler_and_keeps_its_teacher_when_saved(tmp_path):
    teacher, path = _saved_teacher(tmp_path)
    student = zoo.create("distilled_flow", teacher=str(path), steps=1)
    assert student.width == teacher.width and student.image_shape == teacher.image_shape
    for network in (student.teacher_velocity, student.velocity_network, student.ema_velocity):
        for a, b in zip(network.weights, teacher.ema_velocity.weights):  # the teacher's sampling weights
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(student.sample(2, seed=3), teacher.sample(2, seed=3, steps=1))
    student.compile(**student.default_optimizers())
    before = [w.numpy() for w in student.teacher_velocity.weights]
    student.fit(tiny_images(student), batch_size=4, epochs=1, verbose=0)
    for a, b in zip(student.teacher_velocity.weights, before):  # the teacher does not learn
        np.testing.assert_array_equal(a.numpy(), b)
    student.save(tmp_path / "student.keras")
    loaded = zoo.load(tmp_path / "student.keras")
    assert loaded.get_config()["teacher"] is None
    for a, b in zip(loaded.teacher_velocity.weights, before):
        np.testing.assert_array_equal(a.numpy(), b)
    np.testing.assert_array_equal(loaded.sample(2, seed=3), student.sample(2, seed=3))
    for copy in (loaded.without_average(), loaded.average_only(), loaded.with_sampling(steps=2)):  # keep the teacher
        for a, b in zip(copy.teacher_velocity.weights, before):
            np.testing.assert_array_equal(a.numpy(), b)


def test_a_teacher_it_cannot_distil_is_refused_by_name(tmp_path):
    _, conditional = _saved_teacher(tmp_path, "cflow")
    with pytest.raises(ValueError, match=r"is a ConditionalFlowMatching; distil an unconditional flow"):
        zoo.create("distilled_flow", teacher=str(conditional))
    _, path = _saved_teacher(tmp_path)
    with pytest.raises(ValueError, match=r"width=16: the student has its teacher's architecture \(width=8\)"):
        zoo.create("distilled_flow", teacher=str(path), width=16)
    with pytest.raises(zoo.registry.ModelFileError, match="no model file"):
        zoo.create("distilled_flow", teacher=str(tmp_path / "none.keras"))
