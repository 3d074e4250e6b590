"""gatetrio installs from a built wheel into a clean virtualenv and runs from there (issue 17.13).

gatetrio is on no package index: users install it from the source tree or from a wheel built
from it. This builds the sdist and the wheel as a release would (`python -m build`), installs the
wheel (not the source tree) into a new virtualenv, and runs the console script and the fake
demo from a folder outside the source tree, so nothing can be imported from the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from typing import TYPE_CHECKING

import pytest

import gatetrio
from tests.commands import stream_until
from tests.programs import ROOT

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

HANG_GUARD = 600  # seconds: building and installing reach the package index


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "GATE_API_KEY", "GATE_API_SECRET"):
        env.pop(name, None)
    return env


def test_the_wheel_installs_into_a_clean_virtualenv_and_runs_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, ROOT, cwd=ROOT)
    version = gatetrio.__version__
    wheel = dist / f"gatetrio-{version}-py3-none-any.whl"
    sdist = dist / f"gatetrio-{version}.tar.gz"
    assert wheel.exists(), sorted(p.name for p in dist.iterdir())
    assert sdist.exists(), sorted(p.name for p in dist.iterdir())
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"gatetrio-{version}.dist-info/METADATA").decode()
    assert "gatetrio/py.typed" in names
    assert "gatetrio/testing/__init__.py" in names  # the fake ships: the demo needs it
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names)
    assert "Project-URL" not in metadata  # no link to a repository that does not exist
    with tarfile.open(sdist) as archive:
        members = {member.name.split("/", 1)[1] for member in archive.getmembers()}
    assert {"pyproject.toml", "README.md", "src/gatetrio/__init__.py"} <= members

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = _clean_env()
    outside = tmp_path / "elsewhere"  # not the source tree: nothing imports from the checkout
    outside.mkdir()
    _run(python, "-m", "pip", "install", "-q", wheel, cwd=outside, env=env)

    where = _run(python, "-c", "import gatetrio; print(gatetrio.__file__)", cwd=outside, env=env)
    assert where.startswith(str(env_dir)), where
    assert _run(env_dir / "bin" / "gatetrio", "--version", cwd=outside, env=env).split() == [
        "gatetrio",
        version,
    ]
    trades, _ = stream_until(
        ["stream", "trades", "BTC_USDT", "--simulate"],
        lambda lines: len(lines) >= 3,
        program=[env_dir / "bin" / "gatetrio"],
        cwd=outside,
        env=env,
    )
    assert {trade["type"] for trade in trades} == {"Trade"}
    # an extra this install lacks is named as something it can install: the extra's packages
    # (`pip install 'gatetrio[record]'` would fail: gatetrio is on no index)
    record = ["record", "trades", "BTC_USDT", "--simulate", "--out", str(outside / "capture")]
    missing = subprocess.run(
        [str(env_dir / "bin" / "gatetrio"), *record],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        "gatetrio: error: recordings need the zstandard package: pip install 'zstandard>=0.22'"
    ]
