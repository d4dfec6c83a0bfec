"""TFLite (LiteRT) variants as data: conversion with builtin ops only, measurement, runners.

Each `Variant` names its converter settings and the quality it must keep
against the float32 Keras generator; `export.artifacts` converts, measures and
gates every variant in one loop.
"""

import dataclasses
import json
import statistics
import time

import numpy as np
import tensorflow as tf

from export.saved_model import SIGNATURE

#: Calibration draws per signature for full-integer quantization. Too few
#: have given NaN at TRANSPOSE_CONV (tensorflow#39720).
CALIBRATION_SAMPLES = 300
#: Float ops of the seed -> latent arithmetic (`zoo.latents`), of the
#: checks and of pixel scaling. Full-integer files keep them in float32
#: (selective quantization), so a seed gives the same latent as in Python;
#: the network's layers, MINIMUM/MAXIMUM and LOGISTIC of the image tail are int8.
FLOAT_OPS = ("CAST", "ADD", "SUB", "MUL", "LOG", "SQRT", "COS", "ABS", "SELECT", "SELECT_V2", "LESS",
             "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "ROUND")
#: Name of the model card inside each `.tflite` file's metadata.
CARD_METADATA = "model_card"


class TFLiteConversionError(RuntimeError):
    """The generator needs ops outside the TFLite builtin set."""


@dataclasses.dataclass(frozen=True)
class Variant:
    """One `.tflite` file of an export and the quality it must keep.

    The pixel thresholds are statements about the held-out seeds
    (`export.artifacts.HELD_OUT_SEEDS`), on which no threshold, calibration
    or parity check was tuned. An image's difference is its largest
    |pixel - Keras pixel| in uint8 steps (its "per-image max difference").

    Attributes:
        name: file `generator_<name>.tflite` (`generator_<N>steps_<name>.tflite`
            for a sampler of N steps, see `filename`).
        quantization: None, "float16", "dynamic_range" or "int8".
        p99_abs_diff: largest 99th percentile of the per-image max difference
            over the held-out seeds.
        max_abs_diff: largest maximum of the per-image max difference over
            the held-out seeds: a maximum over that many seeds, not a bound
            for every seed.
        min_psnr: lowest PSNR (dB) against Keras over the held-out seeds.
        max_fd_increase: largest relative FD increase over the Keras
            generator's FD (where the run's dataset has an extractor).
        batch_size: 1 (mobile) or None (dynamic; written only if it converts
            with builtin ops).
    """

    name: str
    quantization: str | None
    p99_abs_diff: int
    max_abs_diff: int
    min_psnr: float
    max_fd_increase: float
    batch_size: int | None = 1

    def filename(self, contract):
        """The file's name for a model of `contract`: the step count of a multi-step sampler is in it."""
        steps = contract.sampling_steps
        return f"generator_{self.name}.tflite" if steps is None else f"generator_{steps}steps_{self.name}.tflite"

    def thresholds(self):
        return {"p99_abs_diff": self.p99_abs_diff, "max_abs_diff": self.max_abs_diff,
                "min_psnr": self.min_psnr, "max_fd_increase": self.max_fd_increase}


#: Chosen from the four shipped Fashion-MNIST generators measured on 5,000
#: seeds from 50,000,000 (neither held-out nor tested): per-image max
#: difference p99 / max / PSNR of int8 12-63 / 50-179 / 37.3-47.2 dB,
#: dynamic_int8 6-53 / 11-82 / 39.9-53.1 dB, float16 1 / 1 / 68 dB. The tail
#: is heavy (DCGAN int8: p99.9 86, max 156), so a maximum over 100 seeds
#: (the earlier gates' 128 and 64) was about a 99th percentile, not a bound.
VARIANTS = (
    Variant("float32", None, p99_abs_diff=1, max_abs_diff=1, min_psnr=40.0, max_fd_increase=0.01),
    Variant("float16", "float16", p99_abs_diff=1, max_abs_diff=1, min_psnr=40.0, max_fd_increase=0.01),
    Variant("dynamic_int8", "dynamic_range", p99_abs_diff=64, max_abs_diff=128, min_psnr=35.0,
            max_fd_increase=0.05),
    Variant("int8", "int8", p99_abs_diff=96, max_abs_diff=224, min_psnr=35.0, max_fd_increase=0.10),
    Variant("float32_dynamic_batch", None, p99_abs_diff=1, max_abs_diff=1, min_psnr=40.0, max_fd_increase=0.01,
            batch_size=None),
)


def variant(name):
    for candidate in VARIANTS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown TFLite variant {name!r}; use one of {', '.join(v.name for v in VARIANTS)}")


def convert_saved_model(saved_model_dir, signature_keys, quantization=None, representative_dataset=None):
    """Converts a SavedModel's signatures to one `.tflite` flatbuffer with builtin ops only.

    Select-TF (Flex) ops would make every app link the Flex delegate, so
    needing one is an error, not a fallback.

    Args:
        saved_model_dir: SavedModel written for `export.signatures.TFLITE`.
        signature_keys: the signatures to keep.
        quantization: see `Variant.quantization`.
        representative_dataset: for "int8": a callable yielding
            `(signature_key, {input: array})`.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=signature_keys)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.representative_dataset = representative_dataset
    try:
        if quantization != "int8":
            return converter.convert()
        # Selective quantization, the stock converter's public way to keep
        # chosen op types in float32.
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=representative_dataset,
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(FLOAT_OPS)))
        return debugger.get_nondebug_quantized_model()
    except Exception as error:  # The converter raises ConverterError and others.
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise TFLiteConversionError(f"TFLite conversion with builtin ops only failed: {first}") from None


def with_metadata(content, name, data):
    """`content` (a `.tflite` flatbuffer) with a metadata entry `name` holding `data` bytes.

    TFLite's schema has named metadata buffers for exactly this; LiteRT
    ignores entries it does not know, and `read_metadata` reads them back.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(data, np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name.decode() != name] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_metadata(content):
    """`{name: bytes}` of a `.tflite` flatbuffer's metadata entries."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(bytearray(content), 0)
    found = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        found[entry.Name().decode()] = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return found


def read_card(content):
    """The model card embedded in a `.tflite` file, or None."""
    card = read_metadata(content).get(CARD_METADATA)
    return None if card is None else json.loads(card)


def interpreter(model_path_or_content, num_threads=2, delegates=True):
    """An allocated `ai_edge_litert` interpreter for a `.tflite` file or bytes.

    `delegates=False` runs the builtin kernels only (no XNNPACK).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    options = {"num_threads": num_threads}
    if not delegates:
        options["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    if isinstance(model_path_or_content, (bytes, bytearray)):
        result = Interpreter(model_content=bytes(model_path_or_content), **options)
    else:
        result = Interpreter(model_path=str(model_path_or_content), **options)
    result.allocate_tensors()
    return result


def _first_subgraph(content, signature):
    """`content` with `signature`'s subgraph moved first: LiteRT's Python API reports ops of subgraph 0 only."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    index = next(i for i, d in enumerate(model.signatureDefs) if d.signatureKey.decode() == signature)
    target = model.signatureDefs[index].subgraphIndex
    order = [target] + [i for i in range(len(model.subgraphs)) if i != target]
    model.subgraphs = [model.subgraphs[i] for i in order]
    for definition in model.signatureDefs:
        definition.subgraphIndex = order.index(definition.subgraphIndex)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def op_report(content, signature="generate"):
    """Ops of one signature and the ones XNNPACK, LiteRT's default CPU delegate, takes over.

    Returns:
        `{"signature", "ops": {op: count}, "xnnpack_delegated": {op: count},
        "xnnpack_partitions": n}`. The interpreter lists the original nodes
        and then one DELEGATE node per partition; a partition holds the
        nodes between its inputs and outputs.
    """
    instance = interpreter(_first_subgraph(content, signature), num_threads=1)
    nodes = instance._get_ops_details()
    original = [node for node in nodes if node["op_name"] != "DELEGATE"]
    producer = {int(t): node["index"] for node in original for t in node["outputs"]}
    by_index = {node["index"]: node for node in original}
    delegated = set()
    for partition in (node for node in nodes if node["op_name"] == "DELEGATE"):
        boundary = {int(t) for t in partition["inputs"]}
        pending = [int(t) for t in partition["outputs"]]
        while pending:
            tensor = pending.pop()
            index = producer.get(tensor)
            if tensor in boundary or index is None or index in delegated:
                continue
            delegated.add(index)
            pending.extend(int(t) for t in by_index[index]["inputs"] if t >= 0)

    def count(selected):
        found = {}
        for node in selected:
            found[node["op_name"]] = found.get(node["op_name"], 0) + 1
        return dict(sorted(found.items()))

    return {"signature": signature, "ops": count(original),
            "xnnpack_delegated": count(by_index[i] for i in delegated),
            "xnnpack_partitions": len(nodes) - len(original)}


def latency_ms(content, runs=200, warmup=20, num_threads=2):
    """Median milliseconds of one `serving_default` invoke at batch 1 (and p10, p90)."""
    instance = interpreter(content, num_threads=num_threads)
    runner = instance.get_signature_runner(SIGNATURE)
    inputs = {name: np.zeros(detail["shape"], detail["dtype"])
              for name, detail in runner.get_input_details().items()}
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        runner(**inputs)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    deciles = statistics.quantiles(times, n=10)
    return {"median": statistics.median(times), "p10": deciles[0], "p90": deciles[-1], "runs": runs,
            "threads": num_threads}


def signature_runners(model_path_or_content, num_threads=2):
    """`{name: (**inputs (n, ...)) -> {output: numpy (n, ...)}}` for every signature of a `.tflite` file.

    A batch-1 file runs one row at a time; a dynamic-batch file is resized to
    the batch.
    """
    instance = interpreter(model_path_or_content, num_threads)
    return {name: BatchedRunner(instance.get_signature_runner(name)) for name in instance.get_signature_list()}


class BatchedRunner:
    """A LiteRT signature runner as `(**inputs (n, ...)) -> {output: (n, ...)}`, row by row at batch 1.

    `details` are the runner's input details (`{name: {"dtype", "shape",
    "shape_signature", ...}}`).
    """

    def __init__(self, runner):
        self.runner, self.details = runner, runner.get_input_details()
        self.static = all(detail["shape_signature"][0] == 1 for detail in self.details.values()
                          if len(detail["shape"]))

    def __call__(self, **inputs):
        inputs = {name: np.asarray(value, self.details[name]["dtype"]) for name, value in inputs.items()}
        if not self.static:
            return self.runner(**inputs)
        n = len(next(iter(inputs.values())))
        rows = [self.runner(**{name: value[i : i + 1] for name, value in inputs.items()}) for i in range(n)]
        return {name: np.concatenate([row[name] for row in rows]) for name in rows[0]}

