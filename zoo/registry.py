"""Model registry: short names -> classes, and safe loading of `.keras` files."""

import inspect
import json
import os
import zipfile

import keras

from zoo.errors import ZooError
from zoo.run_folder import RunFolder

_MODELS = {}
PACKAGE = "zoo"


class ModelFileError(ZooError, ValueError):
    """A model file is missing, corrupt, or holds a class the zoo does not know."""


def register(name):
    """Class decorator: registers a model under `name` and with Keras saving.

    Example:
        @register("dcgan")
        class DCGAN(GAN): ...
    """

    def decorate(cls):
        if name in _MODELS:
            raise ValueError(f"model name {name!r} is already registered")
        keras.saving.register_keras_serializable(package=PACKAGE, name=cls.__name__)(cls)
        cls.registry_name = name
        _MODELS[name] = cls
        return cls

    return decorate


def names():
    """Registered model names, sorted."""
    return sorted(_MODELS)


def conditional_names():
    """Registered models that generate a class asked for (their constructor takes `num_classes`), sorted."""
    return [name for name in names() if "num_classes" in constructor_arguments(_MODELS[name])]


def get(name):
    """Returns the model class registered as `name`."""
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; choose one of: {', '.join(names())}"
        ) from None


def constructor_arguments(cls):
    """Hyperparameter names and defaults accepted by a model's constructor."""
    arguments = {}
    for klass in reversed(cls.__mro__):
        if "__init__" not in vars(klass) or not issubclass(klass, keras.Model):
            continue
        if klass is keras.Model or klass.__module__.partition(".")[0] == "keras":
            continue
        for param in inspect.signature(klass.__init__).parameters.values():
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                if param.name != "self":
                    arguments[param.name] = param.default
    return arguments


def create(name, **hyperparameters):
    """Builds a registered model, rejecting unknown hyperparameters by name."""
    cls = get(name)
    accepted = constructor_arguments(cls)
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise ValueError(
            f"model {name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"it accepts: {', '.join(sorted(accepted))}"
        )
    return cls(**hyperparameters)


def load(path):
    """Loads a zoo model, refusing classes it did not register.

    `path` is a `.keras` file, a run folder (its `model.keras`), or the name
    of a shipped model (`zoo.shipped.names()`, e.g. "dcgan_fashion_mnist"),
    whose file is checked against its card's sha256 first.

    Keras's `safe_mode` only stops code embedded in the file; the allow-list
    also stops a file that names some other importable class.

    Raises:
        ModelFileError: the file is missing, not a `.keras` archive, or not a
            zoo model.
        zoo.shipped.ShippedModelError: an unknown name, or a shipped file that
            differs from its card.
    """
    from zoo import shipped

    path = os.fspath(path)
    if not os.path.exists(path) and not path.endswith(".keras"):
        shipped.check_files(os.path.basename(shipped.folder(path, verify=False)), [RunFolder.MODEL])
        path = RunFolder(shipped.folder(path, verify=False)).model
    elif os.path.isdir(path):
        path = RunFolder(path).model
    if not os.path.isfile(path):
        raise ModelFileError(f"no model file at {path!r}; train one with `zoo train`.")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as error:
        raise ModelFileError(
            f"{path!r} is not a readable .keras archive ({error}); re-save it "
            "with model.save() or train again."
        ) from None
    allowed = {f"{PACKAGE}>{cls.__name__}" for cls in _MODELS.values()}
    registered = config.get("registered_name")
    if registered not in allowed:
        raise ModelFileError(
            f"{path!r} holds {registered or config.get('class_name')!r}, which is "
            f"not a zoo model ({', '.join(sorted(allowed))}); refusing to load it."
        )
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for damaged archives.
        raise ModelFileError(
            f"could not load {path!r}: {type(error).__name__}: {error}"
        ) from None
