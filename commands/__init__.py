"""The `zoo` subcommands, one module each: `add_parser(commands)` and `run(args)`.

`commands.cli` assembles them and turns the user errors they raise into one
line and exit status 2.
"""

from commands import (
    classifier,
    evaluate,
    export,
    interpolate,
    listing,
    reconstruct,
    report,
    sample,
    train,
    traverse,
)

#: In the order `zoo --help` lists them.
COMMANDS = (train, export, sample, interpolate, reconstruct, traverse, evaluate, report, classifier, listing)
