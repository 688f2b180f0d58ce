"""The wheel carries the grammar and py.typed: installed in a fresh venv (not editable), it parses filters."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_parses(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("lmfilter-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"lmfilter/lsp/__init__.py", "lmfilter/lsp/__main__.py", "lmfilter/lsp/server.py"} <= names
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )
    # Run outside the repository so that nothing can be found there.
    script = (
        "import lmfilter, pathlib; "
        "assert 'site-packages' in lmfilter.__file__, lmfilter.__file__; "
        "print(lmfilter.format(\"params.alpha<0.3 and tags.in = 'x'\")); "
        # typed (PEP 561), and one version: the package metadata's
        "import importlib.metadata as m; "
        "assert (pathlib.Path(lmfilter.__file__).parent / 'py.typed').is_file(); "
        "assert lmfilter.__version__ == m.version('lmfilter'), lmfilter.__version__"
    )
    out = subprocess.run(
        [str(python), "-c", script], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "params.alpha < 0.3 AND tags.`in` = 'x'"
    cli = subprocess.run(
        [str(env_dir / "bin" / "lmfilter"), "check", "--native", "metric.acc > 1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert cli.returncode == 1
    assert "LMF201" in cli.stdout


def test_user_facing_extras_are_ranges_and_tools_a_dependency_group() -> None:
    """Extras are what users install next to their own packages: ranges. The project's tools are pinned, but
    in a dependency group that no user installs."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    assert "test" not in extras
    for requirements in extras.values():
        for requirement in requirements:
            assert "==" not in requirement, requirement
            assert ">=" in requirement, requirement
            assert "<" in requirement, requirement
    assert any(r.startswith("pytest==") for r in project["dependency-groups"]["test"])
