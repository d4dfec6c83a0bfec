"""Every third-party module the packages import is a declared dependency."""

import ast
import configparser
import importlib.metadata
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).parents[1]
PACKAGES = ("zoo", "training", "export")


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules():
    """Top-level names of every `import` in the packages, with the file that imports each."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.partition(".")[0], str(path.relative_to(ROOT)))
    return found


def _declared_requirements():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    return {_canonical(re.match(r"[A-Za-z0-9_.\-]+", line.strip()).group(0))
            for line in lines if line.strip() and not line.strip().startswith("#")}


def test_every_third_party_import_is_a_declared_requirement():
    declared = _declared_requirements()
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for module, where in _imported_top_level_modules().items():
        if module in PACKAGES or module in sys.stdlib_module_names:
            continue
        providers = {_canonical(d) for d in distributions.get(module, [])}
        assert providers, f"{module!r} (imported in {where}) is not installed by any distribution"
        if not providers & declared:
            undeclared[module] = (sorted(providers), where)
    assert not undeclared, f"imported but not in setup.cfg install_requires: {undeclared}"


def test_the_check_sees_the_known_third_party_imports():
    # Guards the test above against a parser that finds nothing.
    modules = _imported_top_level_modules()
    assert {"tensorflow", "keras", "numpy", "tensorflow_datasets", "ai_edge_litert"} <= set(modules)
