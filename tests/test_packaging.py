"""Packaging (issue 11, point 5): `pip install .` must give a package whose modules import.

Every third-party package src/vaedyn imports at module level is a declared dependency with a lower
bound; one imported only inside a function (the book's papermill, myst-nb, ...) is declared in
the dependencies or an extra; requirements.txt installs the project with its extras; and
constraints.txt pins every declared package at a version its range allows.
"""
import ast
import functools
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")   # Python >= 3.11; the project itself runs on 3.10 too

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "vaedyn"
# Import names whose distribution is named otherwise, for packages not installed where this runs.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "IPython": "ipython", "myst_nb": "myst-nb", "yaml": "pyyaml"}


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(specs) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, specs)}


def third_party_imports() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """({import name: files} at module level, the same for imports inside functions or classes)."""
    module_level, nested = {}, {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        top = set()
        for statement in tree.body:   # module level, including under `if` and `try`
            if isinstance(statement, (ast.If, ast.Try)):
                top.update(id(node) for node in ast.walk(statement))
            top.add(id(statement))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                if root in sys.stdlib_module_names or root == "vaedyn" or root == "__future__":
                    continue
                (module_level if id(node) in top else nested).setdefault(root, set()).add(
                    str(path.relative_to(ROOT)))
    return module_level, nested


@functools.lru_cache(maxsize=1)
def installed_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distribution(import_name: str) -> str:
    installed = installed_distributions().get(import_name)
    return canonicalize_name(installed[0] if installed else DISTRIBUTIONS.get(import_name, import_name))


def test_the_scan_finds_the_imports_it_must():
    module_level, nested = third_party_imports()
    assert {"torch", "numpy", "matplotlib", "seaborn", "scipy", "threadpoolctl", "sklearn"} <= set(module_level)
    assert {"papermill", "nbformat", "myst_nb"} <= set(nested)


def test_every_module_level_import_is_a_dependency_with_a_lower_bound():
    declared = requirements(project()["dependencies"])
    module_level, _ = third_party_imports()
    for name, files in sorted(module_level.items()):
        dist = distribution(name)
        assert dist in declared, f"{name} (imported by {sorted(files)[0]}) is not in pyproject's dependencies"
    for dist, requirement in declared.items():
        assert any(spec.operator in (">=", "==", "~=") for spec in requirement.specifier), \
            f"{dist} has no lower bound in pyproject's dependencies"
    assert "2.3.1" not in declared["torch"].specifier and "2.4.0" in declared["torch"].specifier   # fused CPU Adam


def test_every_import_inside_a_function_is_declared_somewhere():
    spec = project()
    declared = set(requirements(spec["dependencies"]))
    for extra in spec["optional-dependencies"].values():
        declared |= set(requirements(extra))
    _, nested = third_party_imports()
    for name, files in sorted(nested.items()):
        assert distribution(name) in declared, f"{name} (imported in {sorted(files)[0]}) is not declared"


def test_extras_for_the_book_and_the_tests():
    extras = project()["optional-dependencies"]
    assert {"jupyter-book", "papermill", "myst-nb", "nbformat", "ipykernel"} <= set(requirements(extras["book"]))
    assert "2.0" not in requirements(extras["book"])["jupyter-book"].specifier   # jupyter-book 1.x
    assert {"pytest", "playwright"} <= set(requirements(extras["test"]))


def test_requirements_install_the_project_with_both_extras():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["-e .[book,test]"]


def test_constraints_pin_every_declared_package_inside_its_range():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip()).groups()
            pins[canonicalize_name(name)] = version
    assert "vaedyn" not in pins
    spec = project()
    declared = requirements(spec["dependencies"])
    for extra in spec["optional-dependencies"].values():
        declared.update(requirements(extra))
    for dist, requirement in declared.items():
        assert dist in pins, f"constraints.txt does not pin {dist}"
        assert requirement.specifier.contains(pins[dist], prereleases=True), \
            f"constraints.txt pins {dist}=={pins[dist]}, outside pyproject's {requirement}"


def test_the_old_plots_module_name_still_imports():
    """The hardening issue's install check imports vaedyn.plots; it is vaedyn.book.plots under its old name."""
    import vaedyn.book.plots
    import vaedyn.plots

    assert vaedyn.plots is vaedyn.book.plots
