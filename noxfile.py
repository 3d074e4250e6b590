"""Developer sessions: `nox -s tests lint typing docs bench`."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.error_on_external_run = True
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typing", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def tests_thorough(session: nox.Session) -> None:
    """Many Hypothesis examples (the `ci` profile)."""
    session.install("-e", ".[test]")
    session.run("pytest", "--hypothesis-profile=ci", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built with warnings as errors (also run by tests/test_docs.py)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Decode, order-book and end-to-end benchmarks: ratios against a same-run baseline."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def foreign(session: nox.Session) -> None:
    """gate-ws, ccxt pro and cryptofeed against `gatetrio serve`, each in its own virtualenv
    (made and cached by tests/test_foreign.py under .venv-foreign/)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "foreign", *session.posargs)
