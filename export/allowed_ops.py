"""The TensorFlow ops an exported generator's SavedModel may contain.

A SavedModel is a program (TensorFlow's security policy), so readers check its
graph before running it: every op must be one this project's exporter emits.
Ops fall in two roles:

- serving: the top-level graph and every function a signature, the object
  graph or anything else could call. Only `SERVING_OPS` may appear.
- saver: the functions called only by the graph's `saver_def` save and
  restore nodes (TF Serving restores variables through them; nothing else
  runs them). They may also use `SAVER_OPS`, which read and write
  checkpoint files and so are refused anywhere a signature can reach.

Both sets were collected from fresh exports of every registered model with
the options that change its graph (`tests/export/test_allowed_ops.py`
re-derives them and fails when an export emits an op that is not listed;
`python -m tests.export.test_allowed_ops` prints the sets to paste here).
"""

from tensorflow.core.protobuf import saved_model_pb2

#: Ops of the top-level graph and of every function a signature can reach.
SERVING_OPS = frozenset({
    "Abs", "AddV2", "All", "Assert", "BatchMatMulV2", "BiasAdd", "BitwiseXor", "BroadcastTo",
    "Cast", "ConcatV2", "Const", "Conv2D", "Conv2DBackpropInput", "Cos", "Einsum", "Equal",
    "ExpandDims", "FloorDiv", "FloorMod", "GatherV2", "Greater", "GreaterEqual", "Identity",
    "IdentityN", "If", "LeakyRelu", "Less", "LessEqual", "Log", "LogicalAnd", "MatMul", "Maximum",
    "Mean", "Minimum", "Mul", "Neg", "NoOp", "Pack", "Placeholder", "Range", "ReadVariableOp",
    "RealDiv", "Relu", "Reshape", "RightShift", "Round", "Rsqrt", "SelectV2", "Shape", "Sigmoid", "Sin",
    "Softmax", "Sqrt", "SquaredDifference", "Squeeze", "StatefulPartitionedCall",
    "StopGradient", "StridedSlice", "Sub", "Tanh", "Tile", "VarHandleOp",
    "While",
})

#: Ops of the saver's two graph nodes and of their `_traced_save` /
#: `_traced_restore` functions.
SAVER_OPS = frozenset({
    "AssignVariableOp", "Const", "DisableCopyOnRead", "Identity", "MergeV2Checkpoints", "NoOp",
    "Pack", "ReadVariableOp", "RestoreV2", "SaveV2", "Select", "ShardedFilename",
    "StatefulPartitionedCall", "StaticRegexFullMatch", "StringJoin",
})

#: Ops that touch files, run Python or print: never allowed where a signature
#: can reach, whatever the lists above say (the saver's file ops included).
UNSAFE_OPS = frozenset({
    "EagerPyFunc", "ImmutableConst", "MatchingFiles", "MergeV2Checkpoints", "Print", "PrintV2",
    "PyFunc", "PyFuncStateless", "ReadFile", "Restore", "RestoreSlice", "RestoreV2", "Save",
    "SaveSlices", "SaveV2", "ShardedFilename", "ShardedFilespec", "WriteFile",
})

SERVING, SAVER = "serving", "saver"


def parse_saved_model(content):
    """`saved_model.pb` bytes -> `SavedModel` proto (raises `DecodeError` if corrupt)."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(content)
    return saved_model


def _node_name(tensor_name):
    """`"^name"`, `"name:0"` -> `"name"`."""
    return tensor_name.lstrip("^").split(":")[0]


def _called_functions(node, functions):
    """Names of library functions a node calls (by op name or func attributes)."""
    called = {node.op} & functions.keys()
    for value in node.attr.values():
        if value.HasField("func"):
            called.add(value.func.name)
        called.update(function.name for function in value.list.func)
    return called


def _closure(roots, functions):
    """Functions reachable from `roots` through calls."""
    seen, stack = set(), [name for name in roots if name in functions]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in functions[name].node_def:
            stack.extend(_called_functions(node, functions) - seen)
    return seen


def _ancestors(graph_nodes, names):
    """Top-level nodes `names` depend on (data and control inputs), themselves included."""
    seen, stack = set(), [name for name in names if name in graph_nodes]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(_node_name(i) for i in graph_nodes[name].input if _node_name(i) in graph_nodes)
    return seen


def ops_by_role(saved_model):
    """`{"serving": {op: {where}}, "saver": {op: {where}}}` for a `SavedModel` proto.

    `where` is `"graph"` for the top-level graph or a function's name. A
    function counts as saver-only when the `saver_def`'s nodes reach it and
    nothing else does (no other node, no object-graph function, no signature
    that depends on a saver node).
    """
    result = {SERVING: {}, SAVER: {}}

    def add(role, op, where):
        result[role].setdefault(op, set()).add(where)

    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        functions = {function.signature.name: function for function in graph.library.function}
        nodes = {node.name: node for node in graph.node}
        saver_nodes = set()
        if meta_graph.HasField("saver_def"):
            saver = meta_graph.saver_def
            saver_nodes = {_node_name(saver.save_tensor_name), _node_name(saver.restore_op_name)}
            saver_nodes &= nodes.keys()
        signature_tensors = [
            tensor.name
            for signature in meta_graph.signature_def.values()
            for tensor in [*signature.inputs.values(), *signature.outputs.values()]
        ]
        # A signature that depends on a saver node would run it: no saver role then.
        saver_nodes -= _ancestors(nodes, map(_node_name, signature_tensors))

        saver_roots, other_roots = set(), set(meta_graph.object_graph_def.concrete_functions)
        for node in graph.node:
            role = SAVER if node.name in saver_nodes else SERVING
            called = _called_functions(node, functions)
            (saver_roots if role == SAVER else other_roots).update(called)
            if node.op not in functions:
                add(role, node.op, "graph")
        saver_reach = _closure(saver_roots, functions)
        other_roots |= functions.keys() - saver_reach  # uncalled functions: serving, strictly
        saver_only = saver_reach - _closure(other_roots, functions)
        for name, function in functions.items():
            role = SAVER if name in saver_only else SERVING
            for node in function.node_def:
                if node.op not in functions:
                    add(role, node.op, name)
    return result


def disallowed_ops(saved_model):
    """`{op: sorted places}` of ops outside the allow-list for their role; empty if none."""
    allowed = {SERVING: SERVING_OPS - UNSAFE_OPS, SAVER: SAVER_OPS}
    refused = {}
    for role, ops in ops_by_role(saved_model).items():
        for op, places in ops.items():
            if op not in allowed[role]:
                refused.setdefault(op, set()).update(places)
    return {op: sorted(places) for op, places in sorted(refused.items())}
