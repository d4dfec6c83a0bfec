"""Every error a user can cause derives from ZooError, so the command line cannot forget one."""

import importlib
import inspect
import pkgutil

import commands
import evaluation
import export
import reports
import training
import zoo
from commands.common import UsageError
from export.tflite import TFLiteConversionError
from training.callbacks import NonFiniteError
from zoo.errors import ZooError

#: The exceptions the packages define that are not ZooErrors, each with the reason.
NOT_ZOO_ERRORS = {
    # Training diverged (a NaN loss or weight): no input of the user's is
    # wrong; the command keeps the last good files and exits with status 1.
    NonFiniteError,
    # Internal to export: `export_run` records the variant as not written, or
    # raises an ExportError (a ZooError) in its place; it never reaches a user.
    TFLiteConversionError,
    # A user error, but every command module imports it and `zoo --help` must
    # answer without Keras, which importing `zoo.errors` imports (the `zoo`
    # package's __init__); `commands.cli` catches it beside ZooError.
    UsageError,
}


def _defined_exceptions():
    """`{"module.Class": class}` of every exception class defined in a module of the packages."""
    found = {}
    for package in (zoo, reports, export, training, evaluation, commands):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            loaded = importlib.import_module(module.name)
            for value in vars(loaded).values():
                if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.name:
                    found[f"{module.name}.{value.__qualname__}"] = value
    return found


def test_every_exception_the_packages_define_is_a_zoo_error_or_explicitly_allowed():
    found = _defined_exceptions()
    forgotten = sorted(name for name, error in found.items()
                       if not issubclass(error, ZooError) and error not in NOT_ZOO_ERRORS)
    assert not forgotten, f"derive these from zoo.errors.ZooError, or say in NOT_ZOO_ERRORS why not: {forgotten}"
    assert NOT_ZOO_ERRORS <= set(found.values())  # no stale entries
    # Guards the walk against finding nothing.
    assert {"zoo.registry.ModelFileError", "training.train.RunFolderError", "export.reading.ArtifactError",
            "zoo.files.FolderBusyError"} <= set(found)



def test_a_new_zoo_error_reaches_the_user_as_one_line_and_exit_status_2(monkeypatch, capsys):
    from commands import cli, listing

    class NewError(ZooError, ValueError):  # no list in the command line names it
        pass

    def run(args):
        raise NewError("'x.json' is damaged;\n  write it again.")

    monkeypatch.setattr(listing, "run", run)
    assert cli.main(["list"]) == 2
    assert capsys.readouterr().err == "zoo list: error: 'x.json' is damaged; write it again.\n"
