"""What a model's training state consists of: `training_state_variables` (and `model_optimizers`).

`TrainingBackup` saves and restores these variables; `TerminateOnNonFinite`
checks them.
"""

import keras


def model_optimizers(model):
    """The model's optimizers, each once, in attribute-name order (`d_optimizer` before `g_optimizer`).

    `training_state_variables` numbers its optimizer groups in this order;
    `TrainingBackup.restore` builds each before loading it.
    """
    found = []
    for name in sorted(vars(model)):
        value = vars(model)[name]
        if isinstance(value, keras.optimizers.Optimizer) and all(value is not f for f in found):
            found.append(value)
    return found


def training_state_variables(model):
    """Every variable training state consists of, by group, in a fixed order per group.

    What `TrainingBackup` saves and restores and `TerminateOnNonFinite`
    checks: `{"model": model.variables, "metrics": the loss trackers'
    variables, "optimizer0": ..., "optimizer1": ...}`, the optimizers in
    attribute-name order (`d_optimizer` before `g_optimizer`).

    Example:
        >>> state = {f"{group}/{i}": keras.ops.convert_to_numpy(v)
        ...          for group, variables in training_state_variables(model).items()
        ...          for i, v in enumerate(variables)}
    """
    groups = {"model": list(model.variables), "metrics": list(model.metrics_variables)}
    for i, optimizer in enumerate(model_optimizers(model)):
        groups[f"optimizer{i}"] = list(optimizer.variables)
    return groups
