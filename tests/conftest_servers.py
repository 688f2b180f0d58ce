"""Pytest plugin: real MLflow servers, started once per session and seeded (see ``tests/servers.py``).

Enable it with ``pytest_plugins = ["tests.conftest_servers"]`` in the root conftest, or
``pytest -p tests.conftest_servers``.

Fixtures (all session-scoped, each value a :class:`tests.servers.SeededServer`, i.e. a
``(server, seeded)`` named tuple):

* ``mlflow_servers`` -- ``{version: SeededServer}`` for every version of ``tests.servers.VERSIONS``;
  the servers start and are seeded in parallel threads, once, and stop at the end of the session.
* ``mlflow_server_317`` / ``mlflow_server_318`` -- the 3.17.2 / 3.18.0 entry of it.
* ``mlflow_server`` -- parametrized over both versions (test ids ``3.17.2`` and ``3.18.0``).

The venvs come from ``scripts/install-mlflow.sh``: ``$LMFILTER_VENVS_DIR`` or ``<repo>/.venvs``.
When one is missing the tests that need servers are skipped, or fail when ``$CI`` is set.
Tests using these fixtures get the ``mlflow`` marker automatically (``-m "not mlflow"`` leaves
them out).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.servers import VERSIONS, MlflowServer, SeededServer, seed

_FIXTURES = ("mlflow_servers", "mlflow_server_317", "mlflow_server_318", "mlflow_server")
_REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``mlflow`` marker."""
    config.addinivalue_line(
        "markers",
        "mlflow: needs real MLflow servers (3.17.2 and 3.18.0 venvs from scripts/install-mlflow.sh)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a server fixture with ``mlflow``."""
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in _FIXTURES):
            item.add_marker(pytest.mark.mlflow)


def venvs_dir() -> Path:
    """Where the MLflow venvs live: ``$LMFILTER_VENVS_DIR`` or ``<repo>/.venvs``."""
    return Path(os.environ.get("LMFILTER_VENVS_DIR") or _REPO / ".venvs")


def _start_and_seed(version: str, venvs: Path) -> SeededServer:
    server = MlflowServer.start(version, venvs)
    try:
        return SeededServer(server, seed(server))
    except BaseException:
        server.stop(keep_tmpdir=bool(os.environ.get("LMFILTER_KEEP_MLFLOW_TMP")))
        raise


@pytest.fixture(scope="session")
def mlflow_servers() -> Iterator[dict[str, SeededServer]]:
    """Every MLflow version of ``VERSIONS`` running and seeded: ``{version: (server, seeded)}``."""
    venvs = venvs_dir()
    missing = [v for v in VERSIONS if not (venvs / f"mlflow-{v}" / "bin" / "mlflow").exists()]
    if missing:
        msg = (
            f"MLflow {', '.join(missing)} not installed under {venvs}: run scripts/install-mlflow.sh "
            "(or set LMFILTER_VENVS_DIR)"
        )
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    with ThreadPoolExecutor(len(VERSIONS)) as pool:
        futures = {v: pool.submit(_start_and_seed, v, venvs) for v in VERSIONS}
    started: dict[str, SeededServer] = {}
    errors: list[BaseException] = []
    for version, future in futures.items():
        exc = future.exception()
        if exc is None:
            started[version] = future.result()
        else:
            errors.append(exc)
    try:
        if errors:
            raise errors[0]
        yield started
    finally:
        keep = bool(os.environ.get("LMFILTER_KEEP_MLFLOW_TMP"))
        for pair in started.values():
            pair.server.stop(keep_tmpdir=keep)


@pytest.fixture(scope="session")
def mlflow_server_317(mlflow_servers: dict[str, SeededServer]) -> SeededServer:
    """The MLflow 3.17.2 server (semantics target ``mlflow-3.17``) and its data set."""
    return mlflow_servers["3.17.2"]


@pytest.fixture(scope="session")
def mlflow_server_318(mlflow_servers: dict[str, SeededServer]) -> SeededServer:
    """The MLflow 3.18.0 server (semantics target ``mlflow``) and its data set."""
    return mlflow_servers["3.18.0"]


@pytest.fixture(scope="session", params=VERSIONS)
def mlflow_server(request: pytest.FixtureRequest, mlflow_servers: dict[str, SeededServer]) -> SeededServer:
    """Each MLflow server in turn (the test runs once per version; ids ``3.17.2``, ``3.18.0``)."""
    version: str = request.param
    return mlflow_servers[version]


@pytest.fixture
def server_copy(mlflow_server_318: SeededServer, tmp_path: Path) -> Path:
    """A copy of the 3.18.0 server's database, taken through a read-only connection (SQLite's backup)."""
    import sqlite3

    from lmfilter.sql.mlflow_db import open_database  # the sql extra, loaded by the tests that use it

    with open_database(str(mlflow_server_318.server.tmpdir / "mlflow.db")) as db:
        copy = sqlite3.connect(tmp_path / "mlflow.db")
        db.connection.backup(copy)
        copy.close()
    return tmp_path / "mlflow.db"
