"""`zoo report`: a run's training report as one self-contained HTML page."""

import os

from commands.common import UsageError, model_folder, output_path, writing


def run(args):
    from reports.report import write_report
    from zoo.run_folder import RunFolder

    args.run = model_folder(args.run)
    if not os.path.isfile(RunFolder(args.run).history):
        raise UsageError(f"{args.run!r} has no {RunFolder.HISTORY}: name a run folder written by `zoo train`.")
    out = args.out or output_path(args.run, RunFolder.REPORT)
    with writing(args.run, out, "report"):
        size = write_report(args.run, out)
    print(f"report written to {out} ({size / 1e3:.0f} kB, self-contained: open it in any browser)")


def add_parser(commands):
    parser = commands.add_parser(
        "report", help="write a run's training report as one HTML page",
        description="Loss and metric curves, the per-epoch sample grids, the evaluation, the export's "
        "LiteRT variants and the model card, in one HTML file with everything embedded.",
    )
    parser.add_argument("run", help="run folder, or a shipped model's name (see `zoo list`)")
    parser.add_argument("--out", help="HTML path (default: RUN/report.html; NAME_report.html in the current "
                        "directory for a shipped model)")
    parser.set_defaults(handler=run)
