"""Writes `benchmarks/README.md` from the recorded results in `benchmarks/results/*.json`.

    python benchmarks/tables.py            # rewrites benchmarks/README.md
    python benchmarks/tables.py --check    # exits 1 if benchmarks/README.md is not what it would write

Every figure on that page comes from a results file: the tables, the
commands that reproduce each run (built from the settings the file
records) and the machine it ran on. The prose beside them is written here
and holds no figures. Each results file belongs to one section of
`SECTIONS`; a file that no section names, or a named file that is missing,
stops the script, so a new benchmark cannot be left off the page.

Standard library only (no TensorFlow), so it runs in well under a second;
`tests/test_benchmark_tables.py` runs `--check`.
"""

import argparse
import difflib
import json
import os
import pathlib
import re
import shlex
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"


# --- formatting -------------------------------------------------------------------------------------------


def number(value, digits=1):
    """`value` with `digits` decimals and thousands separators (`1,154.9`)."""
    return f"{value:,.{digits}f}"


def integer(value):
    return f"{value:,}"


def megabytes(size):
    return number(size / 1e6, 2)


def rate(value):
    """A learning rate as `2e-4`."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def samples(values, digits=1):
    return ", ".join(number(v, digits) for v in values)


def flag_value(value):
    """A constructor argument as the benchmarks' `key=value` flags take it (Python literals)."""
    return value if isinstance(value, str) else repr(value)


def arguments(pairs):
    """`{"gp_interval": 4, ...}` -> `gp_interval=4,...`."""
    return ",".join(f"{key}={flag_value(value)}" for key, value in pairs.items())


def code_arguments(pairs):
    """`{"gp_interval": 4, ...}` -> `` `gp_interval=4`, ... ``."""
    return ", ".join(f"`{key}={flag_value(value)}`" for key, value in pairs.items())


def table(header, rows, align=None):
    """A Markdown table; the first column left-aligned, the others right-aligned unless `align` says
    (`"l"` or `"r"` per column)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def shell(*words, width=100):
    """A shell command, each word quoted for the shell; past `width`, a `--flag` and its value start a
    continued line."""
    chunks = []
    for word in map(shlex.quote, map(str, words)):
        if word.startswith("--") or not chunks:
            chunks.append(word)
        else:
            chunks[-1] += " " + word
    lines = [chunks[0]]
    for chunk in chunks[1:]:
        if len(lines[-1]) + 1 + len(chunk) > width:
            lines.append("    " + chunk)
        else:
            lines[-1] += " " + chunk
    return " \\\n".join(lines)


def fence(*commands):
    """Shell commands in one fenced block."""
    return "```bash\n" + "\n".join(commands) + "\n```"


def command(script, *words):
    """The shell command running `benchmarks/SCRIPT`."""
    return shell("python", f"benchmarks/{script}", *words)


def fd(value):
    """An FD with three significant figures at least (`8.51`, `46.5`, `351.5`)."""
    return number(value, 2 if value < 10 else 1)


def link(name):
    return f"[`results/{name}`](results/{name})"


def environment_of(data):
    """The machine a results file records, whichever of the two layouts the benchmark used."""
    return data.get("environment", data)


def recorded_on(name, data):
    """`Recorded in results/NAME: 2 CPUs, ...` from the file's environment fields."""
    env = environment_of(data)
    parts = []
    if "cpu_count" in env:
        parts.append(f"{env['cpu_count']} CPUs")
    if "devices" in env:
        parts.append("TensorFlow devices " + ", ".join(f"`{d}`" for d in env["devices"]))
    if "machine" in env:
        parts.append(env["machine"])
    if "tensorflow" in env:
        parts.append(f"TensorFlow {env['tensorflow']}")
    for key, label in (("runtime", "runtime"), ("browser", "browser")):
        if key in data:
            parts.append(f"{label} `{data[key]}`")
    missing = [label for key, label in (("devices", "the devices"), ("machine", "the architecture"),
                                        ("tensorflow", "the TensorFlow version")) if key not in env]
    text = f"Recorded in {link(name)}: " + ", ".join(parts)
    if missing:
        text += f" ({_join(missing)} not recorded)"
    return text + "."


def _join(words):
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def policy_of(variant):
    """`fast_mixed_bfloat16` -> `mixed_bfloat16`; `fast`, `exact`, `plain` -> `float32`."""
    return variant.partition("_")[2] or "float32"


# --- sections ---------------------------------------------------------------------------------------------
# Each returns the section's Markdown below its title, from `results` ({file name: parsed JSON}).


TRAIN_THROUGHPUT = ("train_throughput_cpu2.json", "train_throughput_precision_cpu2.json",
                    "train_throughput_flow_width16_cpu2.json", "train_throughput_flow_width32_cpu2.json",
                    "train_throughput_flow_light_cpu2.json")


def by_policy(result):
    """A model's `train_throughput` result as `{policy: {images_per_s_median, images_per_s}}`; files from
    before `--precisions` hold one float32 result without the policy level."""
    return {"float32": result} if "images_per_s_median" in result else result


def train_throughput(results):
    out = ["""Images per second that `model.fit` trains at each model's preset on real
Fashion-MNIST batches. Each sample is one epoch of `--steps` batches, timed by
a callback after a warm-up epoch that pays for tracing. With several
`--precisions`, each model is built once per dtype policy and the policies'
epochs alternate, so the machine's drift hits them alike and their ratio is
measured in one run."""]
    for name in TRAIN_THROUGHPUT:
        data = results[name]
        measured = {model: by_policy(result) for model, result in data["results"].items()}
        models = list(measured)
        policies = list(measured[models[0]])
        base = policies[0]
        words = ["--batch-size", data["batch_size"], "--steps", data["steps_per_sample"],
                 "--repeats", len(measured[models[0]][base]["images_per_s"]), "--models", ",".join(models)]
        if policies != ["float32"]:
            words += ["--precisions", ",".join(policies)]
        overrides = data.get("overrides", {})
        for key, value in overrides.items():
            words += ["--set", f"{key}={value}"]
        if len(policies) == 1:
            title = f"Each model at {base}"
            body = table(["model", f"images/s (median), batch {data['batch_size']}", "samples (images/s)"],
                         [[f"`{model}`", number(r[base]["images_per_s_median"]), samples(r[base]["images_per_s"])]
                          for model, r in measured.items()], "lrl")
        else:
            title = " against ".join(policies) + "".join(f", {key}={value}" for key, value in overrides.items())
            rows = []
            for model, r in measured.items():
                medians = [r[p]["images_per_s_median"] for p in policies]
                rows.append([f"`{model}`", *map(number, medians), *(number(m / medians[0], 2) for m in medians[1:])])
            body = table(["model", *(f"{p} images/s (median), batch {data['batch_size']}" for p in policies),
                          *(f"{p} / {base}" for p in policies[1:])], rows)
        out += [f"### {title}", fence(command("train_throughput.py", *words)), recorded_on(name, data), body]
    out.append("""The ratios hold within a run; the same model's images/s differ between runs
as the shared machine's load did. A bfloat16 policy pays off only
on a CPU with native bfloat16 arithmetic; `zoo train --precision POLICY`
trains with one. Every sample of the ratio run is in its results file.""")
    return out


def faces_epoch(results):
    name = "faces_epoch_cpu2.json"
    data = results[name]
    return ["""The faces preset (`dcgan_celeb_a`: RGB, the DCGAN paper's widths) on this
machine. Celeb-A cannot be downloaded here, so the benchmark times `model.fit`
on a folder of JPEGs of Celeb-A's aligned size through the same `folder:`
input pipeline `zoo train --dataset folder:PATH` uses (decode, resize,
shuffle), after a warm-up epoch, and scales the median step time to
Celeb-A's training split. The pictures are smooth random colour fields:
their content does not change the work per step.""",
            fence(command("faces_epoch.py", "--batch-size", data["batch_size"],
                          "--repeats", len(data["seconds_per_step"]))),
            recorded_on(name, data),
            table(["measure", "value"], [
                ["preset", f"`{data['preset']}`, batch {data['batch_size']}"],
                ["parameters (generator, discriminator)",
                 f"{integer(data['generator_parameters'])}, {integer(data['discriminator_parameters'])}"],
                ["seconds per step (median)", number(data["seconds_per_step_median"], 3)],
                ["samples (s per step)", samples(data["seconds_per_step"], 3)],
                ["images/s", number(data["images_per_s"])],
                ["steps per Celeb-A epoch", integer(data["celeb_a_steps_per_epoch"])],
                ["minutes per Celeb-A epoch", number(data["celeb_a_minutes_per_epoch"])],
            ], "ll")]


VERSUS_PLAIN = ("versus_plain_cpu2.json", "versus_plain_gp_interval4_cpu2.json")


def contender(name, fast_arguments):
    if name == "plain":
        return "plain `tf.GradientTape` loop (the keras.io example)"
    if name == "exact":
        return "`wgan_gp`, exact step (the default)"
    step = f"`wgan_gp`, {code_arguments(fast_arguments)}"
    return step if name == "fast" else f"{step}, `{policy_of(name)}`"


def versus_plain(results):
    out = ["""The keras.io WGAN-GP example written out as a plain `tf.function` with
`tf.GradientTape`s (its networks and algorithm in float32, as a user of the
example would write them) against this project's `wgan_gp` at the
`wgan_gp_keras_io` preset through `model.fit`: with the exact step (the
default), with a fast step (the constructor arguments of `--fast`) and, with
`--fast-precision`, the fast step under that dtype policy. All take the same
Fashion-MNIST batches and alternate window by window in one process. A
window is `--steps` generator steps (each after its critic updates), timed
from the end of an untimed first step; images/s count generator-step images
(batch x generator steps / s), and each ratio is to the plain loop's median
in the same run."""]
    for name in VERSUS_PLAIN:
        data = results[name]
        fast = data["fast_arguments"]
        words = ["--batch-size", data["batch_size"], "--steps", data["steps_per_window"],
                 "--windows", data["windows"], "--fast", arguments(fast)]
        if data["precision"] != "float32":
            words += ["--precision", data["precision"]]
        extra = [c for c in data["images_per_s_median"] if c.startswith("fast_")]
        for variant in extra:
            words += ["--fast-precision", policy_of(variant)]
        rows = [[contender(c, fast), number(median), samples(data["images_per_s"][c]),
                 "1.00" if c == "plain" else number(data[f"{c}_over_plain"], 2)]
                for c, median in data["images_per_s_median"].items()]
        out += [f"### Fast step {code_arguments(fast)}",
                fence(command("versus_plain.py", *words)),
                recorded_on(name, data),
                (f"Batch {data['batch_size']}, {data['critic_steps']} critic updates per generator step, "
                f"{data['windows']} windows of {data['steps_per_window']} generator steps per contender; "
                f"`{data['precision']}` unless the row names a policy."),
                table(["training step", "images/s (median)", "windows (images/s)", "vs plain (median ratio)"],
                      rows, "lrlr")]
    out.append("""The gradient penalty's double backward pass is the largest part of a critic
update: `gp_batch_shrink` pays it on a fraction of the examples and
`gp_interval` only every few critic updates, while `joint_discriminator_pass`
replaces the critic's two calls (real, fake) by one on the concatenated
batch. All are opt-in constructor arguments, so recorded commands keep
training the paper's step; whether a fast step keeps the exact step's FD is
the next section's question.""")
    return out


FAST_STEP_FD = ("fast_step_fd_cpu2.json", "fast_step_fd_gp_interval4_cpu2.json")


def band_width(data):
    """The `k` of the file's `within_k_std_of_exact` criterion."""
    (key,) = (k for k in data if re.fullmatch(r"within_\d+_std_of_exact", k))
    return key, int(re.search(r"\d+", key).group())


def fast_step_fd(results):
    out = ["""Speed is half of it: does a fast step train as well? The benchmark trains the
`wgan_gp_keras_io` preset for `--steps` generator steps at `--batch-size`
with the exact step in float32 and with the fast step (`--fast`) under each
of `--fast-precisions`, once per seed (the seed sets the initialisation, the
noise and the data order), the variants' runs alternating; then it measures
each model's FD (`--n` generated images against the Fashion-MNIST test
images, domain extractor; lower is better). A fast variant keeps the FD when
its mean lies within the band the table's last columns give: a few standard
deviations of the exact step's FDs around their mean."""]
    for name in FAST_STEP_FD:
        data = results[name]
        key, k = band_width(data)
        variants = list(data["runs"])
        seeds = [r["seed"] for r in data["runs"]["exact"]]
        policies = [policy_of(v) for v in variants if v != "exact"]
        exact = data["summary"]["exact"]
        rows = []
        for variant in variants:
            runs, summary = data["runs"][variant], data["summary"][variant]
            label = "exact (the default)" if variant == "exact" else f"fast, {code_arguments(data['fast_arguments'])}"
            within = data[key].get(variant)
            rows.append([label, f"`{policy_of(variant)}`", ", ".join(fd(r["fd"]) for r in runs),
                         f"{fd(summary['fd_mean'])} ± {number(summary['fd_std'])}",
                         "-" if variant == "exact" else f"{summary['fd_mean'] - exact['fd_mean']:+.1f}",
                         "-" if within is None else ("yes" if within else "**no**"),
                         ", ".join(number(r["train_seconds"], 0) for r in runs)])
        out += [f"### Fast step {code_arguments(data['fast_arguments'])}",
                fence(command("fast_step_fd.py", "--steps", data["steps"], "--batch-size", data["batch_size"],
                              "--seeds", ",".join(map(str, seeds)), "--fast", arguments(data["fast_arguments"]),
                              "--fast-precisions", ",".join(policies), "--n", data["n"])),
                recorded_on(name, data),
                (f"`{data['preset']}`, {data['steps']} generator steps at batch {data['batch_size']}, FD at "
                f"{integer(data['n'])} images; {k} standard deviations of the exact step's FDs are "
                f"{number(k * exact['fd_std'])}."),
                table(["step", "policy", "FD, seeds " + ", ".join(map(str, seeds)), "FD mean ± std",
                       "mean - exact mean", f"within {k} std of exact", "training s per seed"],
                      rows, "llrrrlr")]
    out.append("""Training times are wall-clock seconds per run as recorded; the runs were
timed for their FD, not for speed, and may have shared the CPU with other
work: the previous section measures speed.""")
    out += recipes(results)
    return out


def recipes(results):
    """The `zoo train` command of each fast step that keeps the FD, with its speed-up from `versus_plain`."""
    out = []
    for name in FAST_STEP_FD:
        data = results[name]
        key, _ = band_width(data)
        for variant, kept in data[key].items():
            if not kept:
                continue
            for speed_name in VERSUS_PLAIN:
                speed = results[speed_name]
                ratio = speed.get(f"{variant}_over_plain")
                if speed["fast_arguments"] != data["fast_arguments"] or ratio is None:
                    continue
                sets = [word for k, v in data["fast_arguments"].items() for word in ("--set", f"{k}={flag_value(v)}")]
                policy = policy_of(variant)
                precision = [] if policy == "float32" else ["--precision", policy]
                out += [(f"A recipe that keeps the exact step's FD ({link(name)}) and trains "
                         f"{number(ratio, 2)} times as fast as the plain loop at batch {speed['batch_size']} "
                         f"({link(speed_name)}):"),
                        fence(shell("zoo", "train", "--preset", data["preset"], "--batch-size", speed["batch_size"],
                                    *sets, *precision, "--out", "runs/wgan_fast"))]
    return out


def fd_per_minute(results):
    name = "fd_per_minute_cpu2.json"
    data = results[name]
    recipes_ = list(data["results"])
    out = ["""Sample quality against training time. Each recipe (a preset with its
learning rates, plus overrides such as the batch size) is trained with
`model.fit` on Fashion-MNIST for `--minutes` of wall-clock time, graph tracing
counted, one recipe at a time; its weights are kept at each of
`--checkpoints` minutes on the way, and each kept state is evaluated
afterwards with the project's evaluator (`--n` images against the test
split, domain extractor; conditional models also get class accuracy).""",
           fence(command("equal_budget.py", "--minutes", f"{data['minutes_each']:g}",
                         "--checkpoints", ",".join(f"{m:g}" for m in data["checkpoints"]),
                         "--recipes", ";".join(recipes_), "--n", data["n"])),
           recorded_on(name, data),
           table(["recipe", "batch", "learning rates (critic or discriminator, generator)", "steps in the budget",
                  "epochs", "classes covered at the end"],
                 [[f"`{r}`", result["batch_size"],
                   f"{rate(result['learning_rates']['d_optimizer'])}, {rate(result['learning_rates']['g_optimizer'])}",
                   integer(result["steps"]), number(result["epochs"], 2), result["classes_covered"]]
                  for r, result in data["results"].items()])]
    planned = [*data["checkpoints"], data["minutes_each"]]
    conditional = any("class_accuracy" in point for r in data["results"].values() for point in r["curve"])
    rows = []
    for recipe in recipes_:
        curve = data["results"][recipe]["curve"]
        if len(curve) != len(planned):
            raise SystemExit(f"{name}: {recipe} has {len(curve)} curve points for {len(planned)} checkpoints")
        for i, (minutes, point) in enumerate(zip(planned, curve)):
            rows.append((i, [f"{minutes:g}", f"`{recipe}`", integer(point["steps"]), fd(point["fd"]),
                             number(point["coverage"], 3), point["classes_covered"]]
                         + ([number(point["class_accuracy"], 3) if "class_accuracy" in point else "-"]
                            if conditional else [])))
    out += [(f"FD at {integer(data['n'])} images, extractor `{data['extractor']}`. Each row is the state kept "
             "at that mark (the minutes recorded, a little past each mark, are in the file), and the rows "
             "are grouped by mark:"),
            table(["minutes", "recipe", "steps", "FD", "coverage", "classes covered",
                   *(["class accuracy"] if conditional else [])],
                  [row for _, row in sorted(rows, key=lambda item: item[0])], "rlrrrrr")]
    return out


EQUAL_BUDGET = ("equal_budget_cpu2.json", "equal_budget_lr1e-3_cpu2.json")


def equal_budget(results):
    out = ["""The same wall-clock budget of `model.fit` for every model, each at its
`<model>_fashion_mnist` preset, graph tracing counted, then the evaluator
(domain extractor; class accuracy for conditional models). Rows are sorted
by FD (lower is better); coverage and density rise as the generator covers
more of the data and its samples sit nearer to real ones."""]
    for name in EQUAL_BUDGET:
        data = results[name]
        models = list(data["results"])
        words = ["--minutes", f"{data['minutes_each']:g}", "--models", ",".join(models),
                 "--batch-size", data["batch_size"], "--n", data["n"]]
        if "lr" in data:
            words += ["--lr", rate(data["lr"])]
        rates = all("learning_rates" in r for r in data["results"].values())
        conditional = any("class_accuracy" in r for r in data["results"].values())
        rows = []
        for model, r in sorted(data["results"].items(), key=lambda item: item[1]["fd"]):
            row = [f"`{model}`"]
            if rates:
                row.append(f"{rate(r['learning_rates']['d_optimizer'])}, {rate(r['learning_rates']['g_optimizer'])}")
            row += [integer(r["steps"]), number(r["epochs"], 2), fd(r["fd"]), number(r["coverage"], 3),
                    number(r["density"], 3), r["classes_covered"]]
            row += [number(r["class_accuracy"], 3) if "class_accuracy" in r else "-"] if conditional else []
            rows.append(row)
        header = ["model", *(["learning rates (discriminator, generator)"] if rates else []), "steps", "epochs",
                  "FD", "coverage", "density", "classes covered", *(["class accuracy"] if conditional else [])]
        title = (f"Learning rate {rate(data['lr'])} for every optimizer" if "lr" in data
                 else "Each preset's learning rates")
        out += [f"### {title}",
                fence(command("equal_budget.py", *words)),
                recorded_on(name, data),
                f"{data['minutes_each']:g} minutes of training each, batch {data['batch_size']}; metrics at "
                f"{integer(data['n'])} images, extractor `{data['extractor']}`"
                + ("." if rates else "; this run's file does not record the learning rates (the presets' own)."),
                table(header, rows)]
    return out


TFLITE_LATENCY = ("tflite_latency_dcgan_cpu2.json", "tflite_latency_vae_cpu2.json")


def tflite_latency(results):
    out = ["""Milliseconds per image of every single-image `.tflite` variant of an export
(`zoo export RUN`), in LiteRT from Python. The benchmark loads every variant,
then times `serving_default` and `generate` invokes round-robin, one block of
`--runs` invokes per variant per round after a warm-up round, so every
variant sees the same machine load; each ratio is to float32's median in the
same run. The size and quality of each variant (PSNR, pixel differences, FD
change, the ops XNNPACK takes) are in the export's model card
(`RUN/exports/N/model_card.json`) and in `zoo export`'s table, not here.
The run folders the files name are not kept in the repository: to reproduce,
train and export a run (`zoo train --preset PRESET --out RUN`, then
`zoo export RUN`) and name it."""]
    for name in TFLITE_LATENCY:
        data = results[name]
        # The file records rounds x runs only: split it at the script's default `--runs`.
        runs = 50 if data["invokes_per_variant"] % 50 == 0 else data["invokes_per_variant"]
        rows = []
        for variant, v in data["variants"].items():
            cells = [f"`{variant}`", megabytes(v["bytes"])]
            for timed in (v["serving_default"], v["generate"]):
                cells += [number(timed["ms_median"], 3), f"{number(timed['ms_p10'], 3)}-{number(timed['ms_p90'], 3)}"]
            rows.append([*cells, number(v["serving_default_median_vs_float32"], 2)])
        out += [f"### `{data['run']}`",
                fence(command("tflite_latency.py", data["run"], "--version", data["version"],
                              "--threads", data["threads"], "--rounds", data["invokes_per_variant"] // runs,
                              "--runs", runs)),
                recorded_on(name, data),
                (f"Export version {data['version']} of `{data['run']}`, batch {data['batch']}, {data['threads']} "
                f"threads, {integer(data['invokes_per_variant'])} timed invokes per variant and signature."),
                table(["variant", "file (MB)", "`serving_default` ms (median)", "p10-p90 (ms)",
                       "`generate` ms (median)", "p10-p90 (ms)", "`serving_default` vs float32"], rows)]
    return out


SAMPLING_STEPS = ("sampling_steps_flow_sizing_width16_cpu2.json", "sampling_steps_flow_sizing_width32_cpu2.json")


def sampling_steps(results):
    out = ["""FD, coverage and density of a multi-step sampler (`flow`) at the project's
protocol (generated images against the test split, domain extractor; the
count is in each command's `-n`) for each ODE solver and step count, beside
the milliseconds per image Keras takes on a full batch and how much training
the weights had. The sizing runs trained the two widths side by side on the
machine's CPUs, one thread each, and were measured on their trained weights (`--trained-weights`: an
average over a few epochs still leans on its zero start). The run folders
are not kept in the repository: to reproduce, train a run with the settings
shown and name it."""]
    for name in SAMPLING_STEPS:
        data = results[name]
        config, trained = data["config"], data["trained"]
        rows = data["rows"]
        words = [data["run"], "--steps", ",".join(sorted({str(r["steps"]) for r in rows}, key=int)),
                 "--solvers", ",".join(dict.fromkeys(r["solver"] for r in rows)), "-n", data["n"]]
        if {r["weights"] for r in rows} == {"trained"}:
            words.append("--trained-weights")
        out += [f"### `{data['model']}`, width {config['width']}, {trained['epochs']} epochs",
                fence(command("sampling_steps.py", *words)),
                recorded_on(name, data),
                (f"Trained {trained['epochs']} epochs of {integer(trained['steps_per_epoch'])} batches of "
                 f"{trained['batch_size']} ({integer(trained['epochs'] * trained['steps_per_epoch'])} steps) in "
                 f"{number(trained['wall_time_seconds'] / 60)} minutes."),
                table(["solver", "steps", "network calls", "FD", "coverage", "density", "ms per image (Keras)"],
                      [[r["solver"], r["steps"], r["network_calls"], fd(r["fd"]), number(r["coverage"], 3),
                        number(r["density"], 3), number(r["ms_per_image_keras_batch256"], 2)] for r in rows],
                      "lrrrrrr")]
    return out


SAMPLER_LATENCY = ("sampler_latency_flow_width32_cpu2.json", "sampler_latency_flow_widths_cpu2.json",
                   "sampler_latency_flow_attention_cpu2.json", "sampler_latency_flow_normalization_cpu2.json",
                   "sampler_latency_flow_light_attention_cpu2.json")


def sampler_latency(results):
    out = ["""Milliseconds per image of a multi-step sampler's `.tflite` `generate`, one image
per invoke, in LiteRT from Python, for each step count unrolled into the file, as
`zoo export` converts it (builtin ops only; int8 calibrated on seeds). The
networks are seeded and untrained: the time depends on the graph, not on the
weights, so this sizes the architecture before any training. Each run times
its files round-robin, one block of `--runs` invokes per file per round after
a warm-up round, so the files of one table saw the same machine load; ratios
hold within a table."""]
    for name in SAMPLER_LATENCY:
        data = results[name]
        rows = data["rows"]
        varied = data.get("varied")
        words = ["--model", data["model"],
                 "--widths", ",".join(dict.fromkeys(str(r["width"]) for r in rows)),
                 "--steps", ",".join(dict.fromkeys(str(r["steps"]) for r in rows)),
                 *[word for key, value in data["overrides"].items() for word in ("--set", f"{key}={value}")],
                 *(["--vary", f"{varied}={','.join(dict.fromkeys(str(r[varied]) for r in rows))}"] if varied else []),
                 "--quantizations", ",".join(dict.fromkeys(r["quantization"] for r in rows)),
                 "--threads", data["threads"], "--rounds", data["rounds"], "--runs", data["runs"]]
        header = [*([f"`{varied}`"] if varied else []), "width", "parameters", "steps", "variant", "file (MB)",
                  "ms per image (median)", "p10-p90 (ms)"]
        table_rows = [[*([flag_value(r[varied])] if varied else []), r["width"], integer(r["parameters"]),
                       r["steps"], r["quantization"], megabytes(r["bytes"]), number(r["ms_median"], 2),
                       f"{number(r['ms_p10'], 2)}-{number(r['ms_p90'], 2)}"] for r in rows]
        title = f"`{data['model']}`" + (f" ({code_arguments(data['overrides'])})" if data["overrides"] else "")
        values = [flag_value(value) for value in dict.fromkeys(r[varied] for r in rows)] if varied else []
        title += (f": `{varied}` {' against '.join(f'`{value}`' for value in values)}" if varied else
                  f", width {_join([str(w) for w in dict.fromkeys(r['width'] for r in rows)])}")
        out += [f"### {title}",
                fence(command("sampler_latency.py", *words)),
                recorded_on(name, data),
                (f"Batch 1, {data['threads']} threads, {integer(data['rounds'] * data['runs'])} timed invokes per "
                 "file."),
                table(header, table_rows, "l" * bool(varied) + "rrrlrrr")]
    return out


RUN_CURVES = ("run_curves_flow_architecture_cpu2.json",)


def run_curves(results):
    out = ["""The `val_fd` that `zoo train --metrics fd` measured after each epoch
(generated against held-out images at the `--metrics-samples` count, domain
extractor; of the weight average, for a model that keeps one) for runs that
differ in the options shown, trained with the same data, batch size and
steps per epoch: the same number of steps and images at each row. How long
an epoch takes on this CPU is in the training throughput section. The run
folders are not kept in the repository: to reproduce, train runs with the
options shown and name them."""]
    for name in RUN_CURVES:
        data = results[name]
        runs = data["runs"]
        keys = [key for key in runs[0]["model_config"]
                if key not in ("name", "seed") and len({json.dumps(r["model_config"].get(key)) for r in runs}) > 1]
        labels = [code_arguments({key: r["model_config"][key] for key in keys}) for r in runs]
        length = min(len(r["epochs"]) for r in runs)
        out += [f"### `{runs[0]['model']}`: {' against '.join(labels)}",
                fence(command("run_curves.py", *[r["run"] for r in runs], "--epochs", length)),
                recorded_on(name, data),
                (f"Batch {runs[0]['batch_size']}, {integer(runs[0]['steps_per_epoch'])} steps per epoch; "
                 f"`val_fd` at {integer(runs[0]['metrics_samples'])} images. Parameters of the sampling network: "
                 + ", ".join(f"{label} {integer(r['parameters'])}" for label, r in zip(labels, runs)) + "."),
                table(["epoch", *[f"{label} `val_fd`" for label in labels]],
                      [[runs[0]["epochs"][i], *[fd(r["val_fd"][i]) for r in runs]] for i in range(length)])]
    return out


WEB_PAGE = ("web_page_dcgan_cpu2.json", "web_page_cgan_cpu2.json")


def web_page(results):
    pages = [results[name] for name in WEB_PAGE]

    def row(label, value):
        return [label, *(value(p) for p in pages)]

    out = ["""The browser page `zoo export --web` writes, with LiteRT.js (LiteRT's
WebAssembly runtime). The benchmark serves the page of a model's latest
export locally and opens it `--loads` times in headless Chromium, a fresh
browser each time, reading the page's own timings; then, in one page,
`--rounds` blocks of `--runs` `generate` invokes (seed to image, timed inside
the page) alternate with as many invokes of the same file's `generate`
signature in Python's LiteRT, on one thread as the page's WebAssembly build
runs single-threaded.""",
           fence(*(command("web_page.py", p["model"], "--variant", p["variant"], "--loads", p["loads"],
                           "--rounds", p["rounds"], "--runs", p["runs_per_round"]) for p in pages)),
           "\n".join(f"- {recorded_on(name, results[name])}" for name in WEB_PAGE),
           table(["measure", *(f"`{p['model']}`" for p in pages)], [
               row("variant", lambda p: f"`{p['variant']}`"),
               row("model file (MB)", lambda p: megabytes(p["file_bytes"])),
               row("page folder (MB)", lambda p: megabytes(p["page_folder_bytes"])),
               row("page folder less the model file (MB)",
                   lambda p: megabytes(p["page_folder_bytes"] - p["file_bytes"])),
               row("page load to model ready (ms, median of the loads)",
                   lambda p: number(p["page_load_to_model_ready_ms"], 0)),
               row("page load to first image (ms, median of the loads)",
                   lambda p: number(p["page_load_to_first_image_ms"], 0)),
               row("fresh page loads", lambda p: p["loads"]),
               row("browser, ms per image (median of the rounds)", lambda p: number(p["browser_ms_per_image"], 2)),
               row("Python LiteRT, 1 thread, ms per image (median of the rounds)",
                   lambda p: number(p["python_litert_1_thread_ms_per_image"], 2)),
               row("browser / Python", lambda p: number(p["browser_over_python"], 2)),
               row("rounds x invokes per round", lambda p: f"{p['rounds']} x {p['runs_per_round']}"),
           ]),
           """The page folder less the model file is the runtime's JavaScript and its
WebAssembly builds, with the page itself: the same for every model."""]
    return out


EVALUATE_SPEED = ("evaluate_speed_cpu2.json", "evaluate_speed_inception_random_cpu2.json")


def extractor_flag(name):
    """The `--extractor` value of a recorded extractor name: `domain:fashion_mnist` -> `domain`,
    `inception_v3:random` -> `inception:random`."""
    kind, _, weights = name.partition(":")
    return "domain" if kind == "domain" else f"inception:{weights}" if kind == "inception_v3" else name


def evaluate_speed(results):
    out = ["""Wall time of a `zoo evaluate`-style evaluation of a run: generating the
images with the Keras model, extracting their features, and the metrics,
against the first images of the Fashion-MNIST test split. It runs once with
an empty feature cache (the real images' features computed too) and then
`--repeats` times with the real features cached, the usual case.
`inception:random` is Keras's InceptionV3 with seeded random weights: it
measures what the Inception extractors cost without their weights, which
cannot be downloaded here. The run folder the files name is not kept in the
repository: to reproduce, name a trained run of your own."""]
    commands, rows = [], []
    for name in EVALUATE_SPEED:
        data = results[name]
        warm = data["seconds_warm_cache_median"]
        commands.append(command("evaluate_speed.py", data["run"], "--n", data["n"],
                                "--repeats", len(data["seconds_warm_cache"]), "--metrics", ",".join(data["metrics"]),
                                "--extractor", extractor_flag(data["extractor"])))
        rows.append([f"`{data['run']}`", f"`{data['extractor']}`", integer(data["n"]), ", ".join(data["metrics"]),
                     number(data["seconds_cold_cache"], 2), number(warm, 2),
                     samples(data["seconds_warm_cache"], 2), number(data["n"] / warm, 1)])
    out += [fence(*commands),
            "\n".join(f"- {recorded_on(name, results[name])}" for name in EVALUATE_SPEED),
            "Each evaluation compares n generated images with n real ones.",
            table(["run", "extractor", "n", "metrics", "cold cache (s)", "warm cache (s, median)", "warm samples (s)",
                   "n / warm median (images/s)"], rows, "llrlrrlr")]
    return out


def kill_resume(results):
    name = "kill_resume_cpu2.json"
    data = results[name]
    train = data["command"].split()
    train = train[train.index("train"):]
    model = train[train.index("--model") + 1]
    epochs = train[train.index("--epochs") + 1]
    backup_every = train[train.index("--backup-every") + 1]
    yes = {True: "yes", False: "**no**"}
    out = ["""Crash safety of `zoo train`. A reference run trains uninterrupted; a second
run of the same command is killed (`kill -9`) at random training steps,
checked for damaged files, and started again with the same command until it
finishes. Then one more run per file kind is killed in the middle of
writing `backup.npz` or `model.keras`, and re-run. The final training state
(every weight, both optimizers' states, random-number state, loss
trackers), `model.keras` and `history.json` must be bitwise equal to the
reference's. The kill steps are drawn at random (`--seed`); the recorded
run's are in the table.""",
           fence(command("kill_resume.py", "--model", model, "--kills", data["kills_landed"], "--epochs", epochs,
                         "--backup-every", backup_every)),
           recorded_on(name, data),
           "The `zoo train` command it kills (`RUN` is a temporary folder):",
           fence(shell("zoo", *train)),
           table(["result", "value"], [
               ["kills landed (during a save)", f"{data['kills_landed']} ({data['kills_during_a_save']})"],
               ["steps per epoch", data["steps_per_epoch"]],
               ["training-state arrays compared, differing",
                f"{data['state_arrays']}, {len(data['state_arrays_differing'])}"],
               ["`model.keras` arrays compared, differing",
                f"{data['model_keras_arrays']}, {len(data['model_keras_arrays_differing'])}"],
               ["`history.json` equal", yes[data["history_equal"]]],
               ["bitwise equal to the reference", yes[data["bitwise_equal"]]],
               ["reference run (s), killed run with its restarts (s)",
                f"{number(data['reference_seconds'])}, {number(data['killed_run_seconds'])}"],
           ], "lr"),
           "Each kill at a training step:",
           table(["kill", "aimed after step", "backup's step after the kill", "files checked",
                  "temporary files left"],
                 [[i, k["aimed_after_step"], k["backup_step_after_kill"], k["files_checked"],
                   ", ".join(f"`{f}`" for f in k["temporary_files_left"]) or "-"]
                  for i, k in enumerate(data["kills"], 1)], "rrrrl"),
           "Each kill injected in the middle of a write:",
           table(["kill during", "exit status", "files checked", "temporary files left", "bitwise equal"],
                 [[k["kill_during"], k["exit"], k["files_checked"],
                   ", ".join(f"`{f}`" for f in k["temporary_files_left"]) or "-", yes[k["bitwise_equal"]]]
                  for k in data["kills_during_a_save_injected"]], "lrrll"),
           """Files checked are the run folder's files read back intact after the kill. A
temporary file left is a half-written next version: every write goes to a
temporary name that is renamed over the target once complete
(`zoo/files.py`), so the previous file stays whole beside it."""]
    return out


#: `(title, function, results files, script)`: the page's sections, in order; every results file is in exactly one.
SECTIONS = (
    ("Training throughput", train_throughput, TRAIN_THROUGHPUT, "train_throughput.py"),
    ("Faces: time per epoch", faces_epoch, ("faces_epoch_cpu2.json",), "faces_epoch.py"),
    ("WGAN-GP: `fit` against a plain training loop", versus_plain, VERSUS_PLAIN, "versus_plain.py"),
    ("WGAN-GP: does a fast step keep the FD?", fast_step_fd, FAST_STEP_FD, "fast_step_fd.py"),
    ("Quality per CPU-minute", fd_per_minute, ("fd_per_minute_cpu2.json",), "equal_budget.py"),
    ("Every model on the same budget", equal_budget, EQUAL_BUDGET, "equal_budget.py"),
    ("LiteRT latency of the exported files", tflite_latency, TFLITE_LATENCY, "tflite_latency.py"),
    ("The browser page", web_page, WEB_PAGE, "web_page.py"),
    ("Flow matching: quality against sampler steps", sampling_steps, SAMPLING_STEPS, "sampling_steps.py"),
    ("Flow matching: LiteRT latency against sampler steps", sampler_latency, SAMPLER_LATENCY, "sampler_latency.py"),
    ("Flow matching: training curves", run_curves, RUN_CURVES, "run_curves.py"),
    ("Evaluation speed", evaluate_speed, EVALUATE_SPEED, "evaluate_speed.py"),
    ("Kill and resume", kill_resume, ("kill_resume_cpu2.json",), "kill_resume.py"),
)


def anchor(title):
    """GitHub's heading anchor."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def load(folder):
    """`{file name: parsed JSON}` of every results file in `folder`."""
    return {path.name: json.loads(path.read_text()) for path in sorted(pathlib.Path(folder).glob("*.json"))}


def check_coverage(names):
    """Stops on a results file no section names, or a named one that is missing."""
    named = [name for _, _, files, _ in SECTIONS for name in files]
    twice = sorted({name for name in named if named.count(name) > 1})
    unknown = sorted(set(names) - set(named))
    missing = sorted(set(named) - set(names))
    problems = ([(f"in no section of benchmarks/tables.py: {', '.join(unknown)} (add each to a section of SECTIONS, "
                 "with its table)")] if unknown else [])
    problems += [f"named in SECTIONS but not in the results folder: {', '.join(missing)}"] if missing else []
    problems += [f"in more than one section: {', '.join(twice)}"] if twice else []
    if problems:
        raise SystemExit("benchmarks/tables.py: results files " + "; ".join(problems))


def render(results):
    """The whole `benchmarks/README.md` for `results` ({file name: parsed JSON})."""
    check_coverage(results)
    envs = [environment_of(data) for data in results.values()]
    cpus = sorted({env["cpu_count"] for env in envs if "cpu_count" in env})
    devices = sorted({d for env in envs for d in env.get("devices", [])})
    versions = sorted({env["tensorflow"] for env in envs if "tensorflow" in env})
    machines = sorted({env["machine"] for env in envs if "machine" in env})
    parts = [f"""# Benchmarks

The scripts in this folder time and measure the zoo; each prints one JSON
object, and the runs recorded in [`results/`](results/) are what this page
shows. **This page is generated**: `python benchmarks/tables.py` rewrites it
from `benchmarks/results/*.json`, and `python benchmarks/tables.py --check`
(run by `tests/test_benchmark_tables.py`) fails when it is stale, so no
figure here is typed by hand. Each section says what its benchmark measures,
the command that reproduces a recorded run (built from the settings the file
records; run it from the repository root, with the project installed), and
the machine the file records.

- **CPU figures.** Every run recorded {_join([str(c) for c in cpus])} CPUs (`os.cpu_count()`), and the
  files that list TensorFlow's devices list only {_join([f"`{d}`" for d in devices])} ({_join(machines)},
  TensorFlow {_join(versions)}). The development machine is shared, so
  absolute figures drift from run to run: compare within a table, not
  across files.
- **Medians.** Times and rates are medians over repeated windows, rounds or
  loads, after a warm-up; the individual samples are beside them or in the
  file.
- **Ratios in one run.** A ratio compares contenders that ran alternately
  in one process, under the same load, never figures of different runs.
- **Adding a benchmark.** Save its JSON in `results/` (`NAME_cpuN.json`),
  add the file to a section of `SECTIONS` in `tables.py`, and run
  `python benchmarks/tables.py`: a results file no section names stops it.
  `screenshot.py` is a tool (a full-page screenshot of `zoo report`'s page)
  and records no results.

Contents:

""" + "\n".join(f"- [{title}](#{anchor(title)}) (`{script}`)" for title, _, _, script in SECTIONS)]
    for title, function, _, script in SECTIONS:
        parts.append(f"## {title}\n\n" + f"Script: [`{script}`]({script}).\n\n"
                     + "\n\n".join(block.strip("\n") for block in function(results)))
    return "\n\n".join(parts) + "\n"


def write(path, text):
    """Writes `text` to `path` atomically (a temporary file renamed over it)."""
    path = pathlib.Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the page differs from what this would write")
    parser.add_argument("--results", default=RESULTS, help="folder of results files (default: benchmarks/results)")
    parser.add_argument("--out", default=README, help="the page (default: benchmarks/README.md)")
    args = parser.parse_args()
    text = render(load(args.results))
    out = pathlib.Path(os.path.relpath(args.out))
    if not args.check:
        write(out, text)
        return
    current = out.read_text() if out.is_file() else ""
    if current != text:
        diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(), f"{out} (as it is)",
                                         f"{out} (as tables.py writes it)", lineterm="", n=1))
        shown = "\n".join(diff[:40]) + (f"\n... {len(diff) - 40} more diff lines" if len(diff) > 40 else "")
        sys.exit(f"{out} is stale: it is not what benchmarks/tables.py writes from "
                 f"{os.path.relpath(args.results)}.\n"
                 f"Run `python benchmarks/tables.py` and commit the page.\n{shown}")
    print(f"{out} is up to date with {os.path.relpath(args.results)}")


if __name__ == "__main__":
    main()
