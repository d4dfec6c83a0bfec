"""What this machine can hold: memory checks made before work, not after it fails.

Counts and sizes a user gives (images to sample or evaluate, batch sizes)
are checked here against the memory the process can still allocate, so a
request that cannot finish is refused with one line that names the limit
and how to get more, instead of a `MemoryError` (or the OOM killer) minutes
later. The checks are estimates from below: what the request needs at least.
"""

import math
import os

from zoo.errors import ZooError


class LimitError(ZooError, ValueError):
    """A count or size this machine cannot hold; the message names the limit and the way round it."""


def available_memory():
    """Bytes this process can still allocate without swapping, or None where unknown.

    `MemAvailable` of `/proc/meminfo` (Linux), capped by the cgroup's memory
    limit in a container (cgroup v2 `memory.max` less `memory.current`);
    elsewhere the physical memory.
    """
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read())
        if limit != "max":
            left = max(int(limit) - used, 0)
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            return None
    return available


def check_memory(needed, what, advice):
    """Raises `LimitError` if `needed` bytes are more than the memory available now.

    Args:
        needed: bytes the request needs at least.
        what: the request, e.g. "-n 2000000 (2,000,000 images of 28x28x1)".
        advice: how to get the result another way (smaller parts, several files).
    """
    available = available_memory()
    if available is not None and needed > available:
        raise LimitError(f"{what} needs at least {format_bytes(needed)} of memory and this machine has "
                         f"{format_bytes(available)} available; {advice}.")


def format_bytes(count):
    """`1536` -> "1.5 kB", `3.2e10` -> "32 GB" (decimal units, two significant digits or more)."""
    units = ("bytes", "kB", "MB", "GB", "TB", "PB", "EB")
    power = min(int(math.log10(count) // 3), len(units) - 1) if count >= 1000 else 0
    value = count / 1000**power
    return f"{value:.0f} {units[power]}" if power == 0 or value >= 10 else f"{value:.1f} {units[power]}"


def activation_values(model):
    """Values the layers of `model`'s networks output per example (their batch dimension left out).

    A lower-bound estimate of what one example of a training batch keeps in
    memory (4 bytes each, and as much again for their gradients).
    """
    total = 0
    pending = list(model.layers)
    while pending:
        layer = pending.pop()
        if getattr(layer, "layers", None):  # a sub-network: count its layers
            pending.extend(layer.layers)
            continue
        try:
            outputs = layer.output
        except (AttributeError, ValueError):  # a layer never called symbolically
            continue
        for output in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
            total += math.prod(side for side in output.shape[1:] if side)
    return total


def check_batch(batch_size, model, what, advice=""):
    """Refuses a training batch whose activations cannot fit in memory (`activation_values` estimate).

    Args:
        batch_size: examples one process trains on at once.
        model: the Keras model being trained.
        what: the request, e.g. "--batch-size 100000".
        advice: appended to the message's way round (e.g. ", or spread it over machines").
    """
    per_example = 2 * 4 * activation_values(model)  # float32 values kept for backprop, and their gradients
    largest = max(1, (available_memory() or 0) // per_example)
    check_memory(batch_size * per_example, f"{what} ({per_example / 1e6:.2f} MB of activations per example)",
                 f"use a smaller batch (this machine holds about {largest:,} examples per process now){advice}")


#: Bytes per image an evaluation holds besides its pixels: float32 features
#: and class probabilities (Inception's 2,048 + 1,000; the domain
#: classifier's 128 + 10) for the generated and the real set.
FEATURE_BYTES = 2 * 4 * (2048 + 1000)


def check_samples(n, image_shape, flag):
    """Refuses `n` images per set that this machine's memory cannot hold, before any is generated.

    Raises:
        zoo.limits.LimitError: naming `flag` (e.g. "-n 10000000").
    """
    height, width, channels = image_shape
    # The generated chunks and their concatenation, the real images, features.
    per_image = 3 * height * width * channels + FEATURE_BYTES
    check_memory(n * per_image, f"{flag} ({n:,} generated and up to {n:,} real images of {height}x{width}x"
                                f"{channels}, with their features)",
                 "use fewer images (10,000 is the protocol; FD is biased at small N, so compare equal N)")
