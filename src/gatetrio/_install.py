"""How to install an optional part of gatetrio, said the way this copy was installed.

gatetrio is installed from a source tree (a clone, `pip install -e .`) or from a wheel built
from one; it is not on a package index, so `pip install 'gatetrio[record]'` would fail. An
error about a missing optional package therefore says, for an install from a clone, the
command that adds the extra there (`pip install -e '/path/to/gatetrio[record]'`, or `.[record]`
from inside the clone), and otherwise the extra's own packages (`pip install 'zstandard>=0.22'`),
which any install can add. Cold path: read only when such an error is raised.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from urllib.parse import unquote, urlsplit

DISTRIBUTION = "gatetrio"


def install_hint(extra: str) -> str:
    """The pip command that adds `extra` (`record`, `parquet`, `serve`, `nats`) to this copy."""
    clone = _clone()
    if clone is not None:
        where = "." if clone == Path.cwd() else str(clone)
        return f"pip install -e {shlex.quote(f'{where}[{extra}]')}"
    packages = _extra_requirements(extra)
    if not packages:  # pragma: no cover - an extra this copy does not declare
        return f"pip install the '{extra}' extra of gatetrio"
    return "pip install " + " ".join(shlex.quote(p) for p in packages)


def _clone() -> Path | None:
    """The source tree this copy runs from, if it was installed in place (or not at all)."""
    from importlib import metadata  # noqa: PLC0415 - cold path

    try:
        distribution = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree on PYTHONPATH
        root = Path(__file__).resolve().parents[2]
        return root if (root / "pyproject.toml").is_file() else None
    text = distribution.read_text("direct_url.json")
    if not text:
        return None
    try:
        direct = json.loads(text)
    except ValueError:  # pragma: no cover - a broken install record
        return None
    url = urlsplit(str(direct.get("url", "")))
    if not direct.get("dir_info", {}).get("editable") or url.scheme != "file":
        return None
    return Path(unquote(url.path))


def _extra_requirements(extra: str) -> list[str]:
    """The requirements `extra` adds, as declared in the installed metadata."""
    from importlib import metadata  # noqa: PLC0415 - cold path

    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # pragma: no cover - handled by _clone first
        return []
    found = []
    for requirement in requires:
        spec, _, marker = requirement.partition(";")
        if marker.replace(" ", "").replace("'", '"') == f'extra=="{extra}"':
            found.append(spec.strip().replace(" ", ""))
    return found
