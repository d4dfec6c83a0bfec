"""How the trees import each other: packages in layers, no `_private` name crosses a module, and tests
and benchmarks never import each other.

What a test and a benchmark both need lives in a package module both
import (`export.browser`, `training.kill_resume`); a helper another module
needs gets a public name and a docstring.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).parents[1]
#: The packages, each importing only those before it: models; image files and
#: the HTML report; export; training; evaluation (which reads data and
#: measures during training); the command line.
LAYERS = ("zoo", "reports", "export", "training", "evaluation", "commands")
TREES = LAYERS + ("tests", "benchmarks")


def _modules():
    """`{dotted name: path}` of every module of the trees."""
    found = {}
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _imports(module, source, modules):
    """`(node, imported module, name or None)` of each project import in `source`, relative ones resolved.

    Benchmarks run as scripts with `benchmarks/` on `sys.path`, so there
    `import environment` is `benchmarks.environment`.
    """
    is_package = modules.get(module, pathlib.Path()).name == "__init__.py"

    def resolve(name):
        top = name.partition(".")[0]
        if module.startswith("benchmarks.") and f"benchmarks.{top}" in modules:
            return f"benchmarks.{name}"
        return name if top in TREES else None

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if resolve(alias.name):
                    yield node, resolve(alias.name), alias
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: None if is_package else -1]
                base = base[: len(base) - node.level + 1]
                source_module = ".".join(base + ([node.module] if node.module else []))
            else:
                source_module = resolve(node.module or "")
            if source_module:
                for alias in node.names:
                    yield node, source_module, alias


def private_names_used_across_modules(module, source, modules):
    """`["line: what"]` for each `_name` of another project module that `source` (module `module`) uses.

    Counts `from M import _name`, `M._name` (M any alias of a project module)
    and `setattr(M, "_name", ...)` / `monkeypatch.setattr(M, "_name", ...)`.
    """
    found, aliases = [], {}
    for node, imported, alias in _imports(module, source, modules):
        if isinstance(node, ast.Import):
            bound = alias.asname or alias.name.partition(".")[0]
            aliases[bound] = imported if alias.asname else imported.partition(".")[0]
            continue
        full = f"{imported}.{alias.name}"
        if full in modules:
            aliases[alias.asname or alias.name] = full
        elif _is_private(alias.name) and imported != module:
            found.append((node.lineno, f"from {imported} import {alias.name}"))

    def dotted(expression):
        if isinstance(expression, ast.Name):
            return aliases.get(expression.id)
        if isinstance(expression, ast.Attribute):
            base = dotted(expression.value)
            return base and f"{base}.{expression.attr}"
        return None

    for node in ast.walk(ast.parse(source)):
        target, name = None, None
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            target, name = dotted(node.value), node.attr
        elif (isinstance(node, ast.Call) and len(node.args) >= 2
              and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("setattr", "getattr", "delattr")
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _is_private(node.args[1].value)):
            target, name = dotted(node.args[0]), node.args[1].value
        if target in modules and target != module:
            found.append((node.lineno, f"{target}.{name}"))
    return [f"{line}: {what}" for line, what in sorted(found)]


def test_no_private_name_is_used_across_modules():
    modules = _modules()
    found = {str(path.relative_to(ROOT)): uses for module, path in modules.items()
             if (uses := private_names_used_across_modules(module, path.read_text(), modules))}
    assert found == {}, "give the helper a public name and a docstring, or use the public function that exists"


def test_each_package_imports_only_the_layers_below_it():
    modules = _modules()
    found = []
    for module, path in modules.items():
        tree = module.partition(".")[0]
        if tree not in LAYERS:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} imports {imported}"
                  for node, imported, _ in _imports(module, path.read_text(), modules)
                  if LAYERS.index(imported.partition(".")[0]) > LAYERS.index(tree)]
    assert found == [], f"the layers are {' <- '.join(LAYERS)}"


def test_tests_and_benchmarks_do_not_import_each_other():
    modules = _modules()
    found = []
    for module, path in modules.items():
        tree = module.partition(".")[0]
        if tree not in ("tests", "benchmarks"):
            continue
        other = "benchmarks" if tree == "tests" else "tests"
        found += [f"{path.relative_to(ROOT)}:{node.lineno} imports {imported}"
                  for node, imported, _ in _imports(module, path.read_text(), modules)
                  if imported.partition(".")[0] == other]
    assert found == [], "move what both need into a package module both import"


def test_the_check_finds_each_kind_of_private_use():
    # Guards the tests above against a parser that finds nothing.
    modules = _modules()
    source = "\n".join([
        "from zoo.latents import _add",
        "from zoo import latents",
        "import export.reading as reading",
        "latents._add(1, 2)",
        "reading._read_tflite",
        "monkeypatch.setattr(latents, '_add', None)",
        "from zoo.latents import mix",
        "self._add",
    ])
    assert private_names_used_across_modules("tests.example", source, modules) == [
        "1: from zoo.latents import _add", "4: zoo.latents._add", "5: export.reading._read_tflite",
        "6: zoo.latents._add"]
    assert private_names_used_across_modules("zoo.latents", "from zoo.latents import _add", modules) == []
    found = [imported for _, imported, _ in _imports("benchmarks.web_page", "from environment import environment",
                                                     modules)]
    assert found == ["benchmarks.environment"]
