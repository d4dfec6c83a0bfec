"""`zoo list`: models, presets, shipped models and datasets."""


def run(args):
    import zoo
    from training import data
    from zoo.registry import constructor_arguments

    print("Models (zoo train --model NAME --set key=value):")
    for name in zoo.names():
        cls = zoo.get(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"  {name:10s} {cls.__name__}: {summary}")
        defaults = ", ".join(f"{k}={v!r}" for k, v in constructor_arguments(cls).items())
        print(f"             {defaults}")
    print("\nPresets (zoo train --preset NAME):")
    for name in sorted(zoo.PRESETS):
        model_name, arguments = zoo.preset(name)
        rates = zoo.preset_learning_rates(name)
        print(f"  {name:24s} {model_name}: {arguments}" + (f" {rates}" if rates else ""))
    print("\nShipped models (zoo sample NAME, zoo.load(NAME); 10k generated vs the 10k test images):")
    for name in zoo.shipped.names():
        card = zoo.shipped.card(name)
        measured = card.get("metrics", {})
        figures = ", ".join(f"{key} {measured[key]:.3g}" for key in ("fd", "coverage", "class_accuracy", "psnr")
                            if isinstance(measured.get(key), (int, float)))
        print(f"  {name:28s} {card.get('model', '?')}: {figures}")
    print("\nDatasets (zoo train --dataset NAME; any TFDS image dataset works):")
    for name in data.KNOWN_DATASETS:
        print(f"  {name:14s} {data.availability(name, args.data_dir)}")


def add_parser(commands):
    listing = commands.add_parser("list", help="list models, presets and datasets")
    listing.add_argument("--data-dir", help="TFDS data directory (default: TFDS's own)")
    listing.set_defaults(handler=run)
