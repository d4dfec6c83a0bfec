"""The `zoo` command line: the one module that ties `zoo`, `training` and `export` together.

Each subcommand is a module of `commands` (a parser builder and a
run function); this module assembles them and turns the errors a user can
cause into one line and exit status 2.
"""

import argparse
import importlib.metadata
import os
import pathlib
import re
import sys

import commands as subcommands
from commands.common import UsageError, native_stderr_to_devnull


def version():
    """The installed package's version, read without importing TensorFlow."""
    try:
        return importlib.metadata.version("keras-gen-zoo")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        source = (pathlib.Path(__file__).parents[1] / "zoo" / "__init__.py").read_text()
        return re.search(r'__version__ = "([^"]+)"', source).group(1)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (and exit status 2), not the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser():
    parser = _Parser(
        prog="zoo",
        description="Train, export, sample and explore Keras GANs and VAEs.",
    )
    parser.add_argument("--version", action="version", version=f"zoo {version()}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log lines (C++ start-up messages, warnings)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    for command in subcommands.COMMANDS:
        command.add_parser(commands)
    return parser


def _user_errors():
    """What a user can cause and fix: `ZooError`, and `UsageError` (see its docstring for why it stands apart)."""
    from zoo.errors import ZooError  # imports Keras, so not before a command runs

    return (ZooError, UsageError)


def _quiet_native_logs():
    """Silences what TensorFlow's C++ side prints to stderr while it loads.

    `TF_CPP_MIN_LOG_LEVEL` does not cover the lines absl writes before its
    logging is initialised (CUDA probes, "All log messages before
    absl::InitializeLog()"), so file descriptor 2 points at /dev/null while
    TensorFlow is imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_to_devnull():
        import tensorflow as tf
    import logging
    import warnings

    tf.get_logger().setLevel("ERROR")
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")
    # The project's own warnings (e.g. skipped image files) as one line each.
    warnings.formatwarning = lambda message, category, *rest, **kwargs: f"zoo: warning: {message}\n"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]  # what config.json and cards record
    if not args.verbose:
        _quiet_native_logs()
    try:
        args.handler(args)
    except _user_errors() as error:
        print(f"zoo {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"zoo {args.command}: interrupted; files written so far are kept.", file=sys.stderr)
        return 130
    except _stops() as error:
        print(f"zoo {args.command}: {_one_line(error)}", file=sys.stderr)
        return 1
    except OSError as error:  # a path the user named cannot be written or read
        where = f" {error.filename!r}" if error.filename else ""
        print(f"zoo {args.command}: error: cannot write or read{where} ({error.strerror or error}); "
              "check the path and its permissions.", file=sys.stderr)
        return 2
    return 0


def _stops():
    from training.callbacks import NonFiniteError

    return (NonFiniteError,)


def _one_line(error):
    return " ".join(str(error).split())


if __name__ == "__main__":
    sys.exit(main())
