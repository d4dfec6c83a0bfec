"""Every third-party module the packages import is a declared dependency."""

import ast
import configparser
import importlib.metadata
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).parents[1]
PACKAGES = ("zoo", "reports", "export", "training", "evaluation", "commands")


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules(in_functions=False):
    """Top-level names of the `import`s in the packages, with the file that imports each.

    `in_functions=False`: imports run when a module is imported; True: the
    ones inside functions, run only when the function is called.
    """
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            deferred = {id(node) for function in ast.walk(tree)
                        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for node in ast.walk(function)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                if (id(node) in deferred) != in_functions:
                    continue
                for name in names:
                    found.setdefault(name.partition(".")[0], str(path.relative_to(ROOT)))
    return found


def _requirement_names(lines):
    return {_canonical(re.match(r"[A-Za-z0-9_.\-]+", line.strip()).group(0))
            for line in lines.splitlines() if line.strip() and not line.strip().startswith("#")}


def _declared_requirements(extras=False):
    """Distributions named by `install_requires`; with `extras`, also by every `extras_require` group."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    declared = _requirement_names(config["options"]["install_requires"])
    if extras:
        for lines in config["options.extras_require"].values():
            declared |= _requirement_names(lines)
    return declared


def _undeclared(imported, declared):
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for module, where in imported.items():
        if module in PACKAGES or module in sys.stdlib_module_names:
            continue
        providers = {_canonical(d) for d in distributions.get(module, [])}
        assert providers, f"{module!r} (imported in {where}) is not installed by any distribution"
        if not providers & declared:
            undeclared[module] = (sorted(providers), where)
    return undeclared


def test_every_third_party_import_is_a_declared_requirement():
    undeclared = _undeclared(_imported_top_level_modules(), _declared_requirements())
    assert not undeclared, f"imported but not in setup.cfg install_requires: {undeclared}"


def test_an_import_inside_a_function_is_a_requirement_or_an_extra():
    # `export.browser` imports Playwright (a test extra) only when it opens a page.
    undeclared = _undeclared(_imported_top_level_modules(in_functions=True), _declared_requirements(extras=True))
    assert not undeclared, f"imported but in neither install_requires nor extras_require of setup.cfg: {undeclared}"


def test_the_check_sees_the_known_third_party_imports():
    # Guards the test above against a parser that finds nothing.
    modules = {**_imported_top_level_modules(), **_imported_top_level_modules(in_functions=True)}
    assert {"tensorflow", "keras", "numpy", "tensorflow_datasets", "ai_edge_litert"} <= set(modules)
    assert "playwright" in _imported_top_level_modules(in_functions=True)
