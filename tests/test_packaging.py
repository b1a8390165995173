"""The project as a package: the wheel `pip install .` would install holds every module and data
file, and from it — not from this checkout — `secretgpt-proof` and `python -m secretgpt.proofs`
work in another directory. (The lock's dependencies come from this venv: installing them into a
fresh one is the README's set-up, not something to repeat per test run.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.app_process import ROOT

PACKAGE = ROOT / "secretgpt"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources, and a stale
    # build/ of the checkout would put modules long deleted into the wheel.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "secretgpt", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: setuptools is already here (pinned by the lock), and no index is needed.
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(out), str(source)], capture_output=True, text=True, timeout=300, cwd=source)
    assert built.returncode == 0, built.stdout + built.stderr
    [found] = out.glob("secretgpt-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked as pip would install it (a wheel is a zip of site-packages' files)."""
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def shipped_files() -> set[str]:
    """Every file of the package in this checkout, as its path in a wheel."""
    return {str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def test_the_wheel_holds_every_module_and_data_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    missing = shipped_files() - names
    assert not missing, f"not in the wheel (a package without __init__.py, or data not in package-data): {missing}"
    assert "secretgpt-proof = secretgpt.proofs.__main__:main" in scripts


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_proof_command_runs_from_the_installed_package(installed: Path, tmp_path: Path) -> None:
    where = run_installed(installed, tmp_path, "-c", "import secretgpt; print(secretgpt.__file__)")
    assert where.returncode == 0 and where.stdout.startswith(str(installed)), where.stdout + where.stderr

    helped = run_installed(installed, tmp_path, "-m", "secretgpt.proofs", "verify", "--help")
    assert helped.returncode == 0 and "--key" in helped.stdout, helped.stdout + helped.stderr

    # The console script pip makes calls this entry point with sys.argv as it was typed.
    script = ("import sys; from importlib.metadata import entry_points; "
              "(ep,) = entry_points(group='console_scripts', name='secretgpt-proof'); "
              "sys.argv = ['secretgpt-proof', 'verify', 'no-such-proof.json']; sys.exit(ep.load()())")
    checked = run_installed(installed, tmp_path, "-c", script)
    assert checked.returncode == 2, checked.stdout + checked.stderr  # EXIT_TAMPERED: nothing to check
    assert "cannot read no-such-proof.json" in checked.stderr
