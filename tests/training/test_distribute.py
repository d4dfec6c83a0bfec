"""Training under tf.distribute gives what one device gives at the same global batch.

Each run is a `zoo train` process (`distributed_zoo.py` splits its CPU into
logical devices first, which TensorFlow allows only before it runs
anything): one device, two mirrored replicas, and two worker processes on
127.0.0.1 with TF_CONFIG. The model is a tiny DCGAN, batch norm in both
networks, synchronised so its statistics cover the global batch.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import zoo
from tests.conftest import TINY_FLAGS, zoo_cli

# The slow tier: several processes and devices.
pytestmark = pytest.mark.slow

HELPER = os.path.join(os.path.dirname(__file__), "distributed_zoo.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = ["--model", "dcgan", *TINY_FLAGS, "--set", "synchronized_batch_norm=True", "--batch-size", "16",
       "--steps-per-epoch", "3", "--deterministic", "--backup-every", "2"]


def _zoo(devices, *args, env=None):
    """Starts `zoo ARGS` in a process with `devices` logical CPU devices."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.Popen([sys.executable, HELPER, str(devices), *args], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process, timeout=300):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _two_workers(*args):
    """Runs `zoo ARGS` as both workers of a two-process cluster on 127.0.0.1."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [
        _zoo(1, *args, env={"TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                                     "task": {"type": "worker", "index": index}})})
        for index in range(2)]
    return [_finish(process) for process in processes]


def _trained(folder):
    """`(weights, history)` of a run folder's model."""
    with open(os.path.join(folder, "history.json")) as f:
        history = json.load(f)
    return zoo.load(os.path.join(folder, "model.keras")).get_weights(), history


def _assert_same_training(folder, reference):
    weights, history = _trained(folder)
    expected_weights, expected_history = _trained(reference)
    for key in ("loss", "d_loss", "g_loss"):
        np.testing.assert_allclose(history[key], expected_history[key], rtol=1e-5)
    # Adam's first steps move each weight by about the learning rate (1e-3)
    # whatever the gradient's size, so summation-order differences in tiny
    # gradients show at that scale; unsynchronised batch norm gives 6e-3.
    for got, expected in zip(weights, expected_weights):
        np.testing.assert_allclose(got, expected, atol=1e-3)


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """The reference: 2 epochs of 3 steps on one device, global batch 16."""
    out = str(tmp_path_factory.mktemp("one") / "run")
    _finish(_zoo(1, "train", *RUN, "--epochs", "2", "--out", out))
    return out


def test_two_mirrored_replicas_train_as_one_device_with_synchronized_batch_norm(one_device, tmp_path):
    out = str(tmp_path / "run")
    _finish(_zoo(2, "train", *RUN, "--epochs", "2", "--strategy", "mirrored", "--out", out))
    _assert_same_training(out, one_device)


def test_two_worker_processes_train_as_one_process_write_the_folder_once_and_resume(one_device, tmp_path):
    out = str(tmp_path / "run")
    outputs = _two_workers("train", *RUN, "--epochs", "1", "--strategy", "multi_worker", "--out", out)
    assert "Run written to" in outputs[0] and "Run written to" not in outputs[1]
    assert "worker 1" in outputs[1]
    with open(os.path.join(out, "history.json")) as f:
        assert json.load(f)["epoch"] == [1]  # one writer: no doubled epochs
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    assert config["strategy"] == "multi_worker" and len(config["commands"]) == 1

    _two_workers("train", "--resume", "--epochs", "2", "--out", out)
    _assert_same_training(out, one_device)
    with open(os.path.join(out, "config.json")) as f:
        assert len(json.load(f)["commands"]) == 2


def test_a_shrunk_gradient_penalty_takes_the_same_examples_on_two_replicas(tmp_path):
    # Each replica penalises every other example of its share: together the
    # examples one device penalises, so the critic losses match too.
    run = [a if a != "dcgan" else "wgan_gp" for a in RUN] + [
        "--set", "gp_batch_shrink=2", "--set", "critic_steps=2", "--epochs", "1"]
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    _finish(_zoo(1, "train", *run, "--out", one))
    _finish(_zoo(2, "train", *run, "--strategy", "mirrored", "--out", two))
    _assert_same_training(two, one)


def test_multi_worker_without_tf_config_is_refused_with_its_form(tmp_path):
    result = zoo_cli("train", *RUN, "--strategy", "multi_worker", "--out", str(tmp_path / "run"),
                     check=False, env={"TF_CONFIG": None})
    assert result.returncode == 2
    assert "needs TF_CONFIG" in result.stderr and '"cluster"' in result.stderr
    assert not os.path.exists(tmp_path / "run")


def test_a_global_batch_that_does_not_split_into_replicas_is_refused(tmp_path):
    process = _zoo(2, "train", *[a if a != "16" else "15" for a in RUN], "--strategy", "mirrored",
                   "--out", str(tmp_path / "run"))
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2
    assert "--batch-size 15 does not split into 2 equal replica batches" in err and "e.g. 14" in err
    assert not os.path.exists(tmp_path / "run")
