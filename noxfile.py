"""Nox sessions: ``tests`` (default), ``lint``, and ``faults`` (the slow kill loop).

The package is installed non-editable so that packaging mistakes (a data file missing from
the wheel) fail the tests instead of hiding behind the source tree.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _install(session: nox.Session, *groups: str) -> None:
    session.install(".")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (sockets blocked: tests never touch the network)."""
    _install(session, "test")
    # JAX on a 2-core CI machine: one process per core, each single-threaded XLA, is fastest.
    session.run(
        "pytest",
        "-m",
        "not slow",
        "-n",
        "2",
        *session.posargs,
        env={"JAX_PLATFORMS": "cpu"},
    )


@nox.session
def faults(session: nox.Session) -> None:
    """The slow reliability tests: the seeded kill -9 loop and end-to-end resume checks."""
    _install(session, "test")
    session.run("pytest", "-m", "slow", *session.posargs, env={"JAX_PLATFORMS": "cpu"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
