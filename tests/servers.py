"""Real MLflow tracking servers for conformance tests: start, seed, search, stop.

This module is a library for pytest fixtures (see ``tests/conftest_servers.py``); it does not import
pytest. It gives:

* :class:`MlflowServer` -- one ``mlflow server`` process from a venv made by
  ``scripts/install-mlflow.sh`` (``<venvs>/mlflow-<version>``), on a free loopback port, with a
  SQLite store in a fresh temporary folder. ``MlflowServer.start(version, venvs_dir)`` waits for
  ``/health`` and checks ``/version``; :meth:`MlflowServer.stop` kills its process group. It is a
  context manager.
* :class:`RestClient` -- a thin ``httpx`` client of ``/api/2.0/mlflow/``: ``get/post/patch/delete``
  return the parsed JSON answer and raise :class:`RestError` (status, error_code, message, body) on
  anything but 2xx.
* :func:`seed` -- creates a deterministic data set of logged models through the REST API and
  returns a :class:`Seeded` description of it (the models as the server returns them).
* :func:`search_all` -- the ids of every model a search returns, across all pages, in server order.

The data set (see :func:`model_plans` and :func:`metric_rows`) is the same on every run and every
server; only ids and timestamps the server assigns differ.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import quote

import httpx

__all__ = [
    "DATASETS",
    "TARGETS",
    "VERSIONS",
    "MetricRow",
    "MlflowServer",
    "ModelPlan",
    "RestClient",
    "RestError",
    "Seeded",
    "SeededServer",
    "ServerStartError",
    "iter_search",
    "metric_rows",
    "model_plans",
    "quote_segment",
    "search_all",
    "seed",
]

#: The MLflow releases the conformance tests run against, oldest first.
VERSIONS: tuple[str, ...] = ("3.17.2", "3.18.0")
#: lmfilter's semantics target for each server version (SPEC §3).
TARGETS: Mapping[str, str] = {"3.17.2": "mlflow-3.17", "3.18.0": "mlflow"}

JSON = dict[str, Any]

_API = "/api/2.0/mlflow/"
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 15.0
_LOG_TAIL_LINES = 40


# --------------------------------------------------------------------------------------------------
# REST


class RestError(Exception):
    """An MLflow REST call answered with a non-2xx status.

    ``error_code`` and ``message`` come from MLflow's JSON error body (``{"error_code", "message"}``);
    for a non-JSON body (some HTTP 500s are HTML) ``error_code`` is ``""`` and ``message`` is the body.
    """

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.error_code = ""
        self.message = body
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            self.error_code = str(parsed.get("error_code", ""))
            self.message = str(parsed.get("message", body))
        shown = " ".join(self.message.split())[:1000]
        super().__init__(f"{method} {url} -> HTTP {status} {self.error_code or '(no error_code)'}: {shown}")


class RestClient:
    """Calls ``<base_url>/api/2.0/mlflow/<path>`` and returns the parsed JSON object of the answer.

    ``path`` is relative (``"logged-models/search"``); path segments that carry ids or keys must be
    percent-encoded by the caller (:func:`quote_segment`). Bodies are sent as JSON with
    ``Content-Type: application/json`` (MLflow rejects a POST without it). An empty answer is ``{}``.
    The client is safe to share between threads.
    """

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url + _API, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> JSON:
        """Send one request; return the JSON answer or raise :class:`RestError` on a non-2xx status."""
        content = None if body is None else json.dumps(body, allow_nan=False).encode("utf-8")
        headers = {} if body is None else {"Content-Type": "application/json"}
        resp = self._http.request(method, path, content=content, headers=headers)
        if not 200 <= resp.status_code < 300:
            raise RestError(method, str(resp.url), resp.status_code, resp.text)
        if not resp.content.strip():
            return {}
        parsed = resp.json()
        if not isinstance(parsed, dict):
            raise RestError(method, str(resp.url), resp.status_code, f"not a JSON object: {resp.text[:500]}")
        return parsed

    def get(self, path: str) -> JSON:
        """``GET`` *path*."""
        return self.request("GET", path)

    def post(self, path: str, body: Mapping[str, Any]) -> JSON:
        """``POST`` *body* to *path*."""
        return self.request("POST", path, body)

    def patch(self, path: str, body: Mapping[str, Any]) -> JSON:
        """``PATCH`` *body* to *path*."""
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> JSON:
        """``DELETE`` *path*."""
        return self.request("DELETE", path)


def quote_segment(segment: str) -> str:
    """Percent-encode one URL path segment (a model id or a tag key), ``/`` included."""
    return quote(segment, safe="")


# --------------------------------------------------------------------------------------------------
# Server process


class ServerStartError(RuntimeError):
    """An MLflow server did not come up (it died, timed out, or reports another version)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return f"(no log: {e})"
    return "\n".join(text.splitlines()[-lines:])


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MLFLOW_TRACKING_URI"):
        env.pop(key, None)
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


@dataclass
class MlflowServer:
    """A running ``mlflow server`` (SQLite store) in its own process group.

    Create it with :meth:`start`; end it with :meth:`stop` or a ``with`` block. ``tmpdir`` holds the
    database (``mlflow.db``), the artifacts and the server's combined stdout/stderr (``server.log``);
    :meth:`stop` removes it unless asked to keep it.
    """

    version: str
    base_url: str
    process: subprocess.Popen[bytes]
    tmpdir: Path
    backend_store_uri: str
    _rest: RestClient | None = field(default=None, init=False, repr=False)

    @property
    def log_path(self) -> Path:
        """The server's combined stdout and stderr."""
        return self.tmpdir / "server.log"

    @property
    def rest(self) -> RestClient:
        """A shared :class:`RestClient` for this server."""
        if self._rest is None:
            self._rest = RestClient(self.base_url)
        return self._rest

    @classmethod
    def start(
        cls,
        version: str,
        venvs_dir: Path | str,
        *,
        timeout: float = _START_TIMEOUT_S,
        backend_store_uri: str | None = None,
    ) -> MlflowServer:
        """Start ``<venvs_dir>/mlflow-<version>/bin/mlflow server`` on a free loopback port.

        Its backend store is *backend_store_uri* (a database MLflow creates its tables in on start), or by
        default ``mlflow.db`` (SQLite) in the server's ``tmpdir``.

        Waits (up to *timeout* seconds) for ``GET /health``, then checks that ``GET /version`` is
        *version*. Raises :class:`FileNotFoundError` when the venv has no ``mlflow`` and
        :class:`ServerStartError` (with the tail of the server log) when the server dies, does not
        answer in time, or reports another version. A port taken between choosing and binding it is
        retried with another port.
        """
        exe = Path(venvs_dir).resolve() / f"mlflow-{version}" / "bin" / "mlflow"
        if not exe.exists():
            raise FileNotFoundError(f"no mlflow {version} at {exe}: run scripts/install-mlflow.sh")
        last: ServerStartError | None = None
        for _attempt in range(3):
            server = cls._spawn(version, exe, backend_store_uri)
            try:
                server._wait_healthy(timeout)
            except ServerStartError as e:
                server.stop(keep_tmpdir=False)
                last = e
                if "address already in use" in str(e).lower():
                    continue
                raise
            return server
        assert last is not None
        raise last

    @classmethod
    def _spawn(cls, version: str, exe: Path, backend_store_uri: str | None) -> MlflowServer:
        tmpdir = Path(tempfile.mkdtemp(prefix=f"lmfilter-mlflow-{version}-"))
        port = _free_port()
        backend = backend_store_uri or f"sqlite:///{tmpdir / 'mlflow.db'}"
        cmd = [
            str(exe),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            backend,
            "--default-artifact-root",
            str(tmpdir / "artifacts"),
        ]
        try:
            with (tmpdir / "server.log").open("wb") as log:
                process = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=tmpdir,
                    env=_server_env(),
                    start_new_session=True,
                )
        except BaseException:
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise
        base_url = f"http://127.0.0.1:{port}"
        return cls(version, base_url, process, tmpdir, backend)

    def _fail(self, why: str) -> ServerStartError:
        return ServerStartError(
            f"mlflow {self.version} server at {self.base_url} {why}; "
            f"last lines of its log:\n{_tail(self.log_path)}"
        )

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0) as http:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise self._fail(f"exited with code {code} before answering /health")
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise self._fail(f"did not answer /health within {timeout:.0f} s")
                time.sleep(0.2)
            got = http.get("/version").text.strip()
        if got != self.version:
            raise self._fail(f"reports version {got!r}, expected {self.version!r}")

    def stop(self, *, keep_tmpdir: bool = False) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL after 15 s) and wait for it.

        Removes ``tmpdir`` unless *keep_tmpdir*. Calling it again is harmless.
        """
        if self._rest is not None:
            self._rest.close()
            self._rest = None
        pgid = self.process.pid  # start_new_session: the server leads its own group
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            self.process.wait(timeout=_STOP_TIMEOUT_S)
        # The uvicorn child may outlive the leader briefly; give it the same grace, then kill it.
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while _signal_group(pgid, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(pgid, signal.SIGKILL)
        if not keep_tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> bool:
    """Send *sig* to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a zombie leader on some platforms
        return True
    return True


# --------------------------------------------------------------------------------------------------
# The data set

READY = "LOGGED_MODEL_READY"
PENDING = "LOGGED_MODEL_PENDING"
UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED"

#: The (dataset_name, dataset_digest) pairs metrics are logged with; ``train`` has two digests.
DATASETS: tuple[tuple[str, str], ...] = (
    ("train", "d-train-1"),
    ("train", "d-train-2"),
    ("eval", "d-eval-1"),
)
_TRAIN1, _TRAIN2, _EVAL = DATASETS

_N_MODELS = 40
_DELETED = frozenset({7, 23})
# Model names cannot contain / : . % " ' on MLflow (400 INVALID_PARAMETER_VALUE), so the LIKE
# wildcard and quote characters live in param and tag values instead; `_` and spaces are allowed.
_NAMES = [
    "modèle-α",
    "模型",
    "Model-A",
    "model-a",
    "MODEL-A",
    "a_b",
    "axb",
    "model-a",  # deleted: a duplicate name that must not show up
    "Äpfel",
    "äpfel",
    "APFEL",
    "dup",
    "dup",
    "with space",
    "émoji-🙂",
    "100pct",
    "x",
    "Ω-model",
    "a__b",
    "ab",
]
_LR = ["0.01", "0.010", "1e-3", "10", "2", "abc", "", None, "0.001", "it's", "50%", "a_b"]
_OPTIMIZER = ["adam", "Adam", "sgd", None, "ADAM"]
_TEAM = ["Äpfel", "äpfel", "APFEL", "apfel", "Apfel", None]
_NOTE = ["it's", "50%", "a_b", "axb", "", "a%b", None]
_MODEL_TYPE = ["sklearn", "pytorch", None, "SKLEARN", "", None]
_STATUS = [READY, PENDING, READY, UPLOAD_FAILED, None]  # None: never finalized (stays PENDING)
_T0 = 1_700_000_000_000  # metric timestamps: _T0 + model index * 100 000 + offset


@dataclass(frozen=True)
class ModelPlan:
    """What :func:`seed` creates for one model (index *index* of :func:`model_plans`).

    ``experiment`` and ``source_run`` are indices into :attr:`Seeded.experiment_ids` and that
    experiment's runs. ``model_type`` None means the field is not sent. ``late_params`` and
    ``late_tags`` are added after creation (log_params, set_tags); ``removed_tags`` are deleted
    with delete_tag.
    """

    index: int
    experiment: int
    name: str
    params: Mapping[str, str]
    tags: Mapping[str, str]
    model_type: str | None
    source_run: int | None
    status: str | None
    deleted: bool
    late_params: Mapping[str, str] = field(default_factory=dict)
    late_tags: Mapping[str, str] = field(default_factory=dict)
    removed_tags: tuple[str, ...] = ()


class MetricRow(NamedTuple):
    """One metric row to log: for model *model* (index), through run *run* of its experiment."""

    model: int
    run: int
    key: str
    value: float
    timestamp: int
    step: int
    dataset: tuple[str, str] | None


def _opt(values: Sequence[str | None], i: int) -> str | None:
    return values[i % len(values)]


def _put(d: dict[str, str], key: str, value: str | None) -> None:
    if value is not None:
        d[key] = value


def model_plans() -> list[ModelPlan]:
    """The 40 models of the data set, in creation order (deterministic)."""
    plans = []
    for i in range(_N_MODELS):
        params: dict[str, str] = {}
        tags: dict[str, str] = {}

        _put(params, "lr", _opt(_LR, i))
        _put(params, "a.b", ["x", "X", "1"][i // 4 % 3] if i % 4 == 0 else None)
        _put(params, "my key", ["v", "V", ""][i // 5 % 3] if i % 5 == 1 else None)
        _put(params, "optimizer", _opt(_OPTIMIZER, i))
        _put(params, "depth", None if i % 7 == 0 else str([2, 10, 3, 20][i % 4]))
        _put(tags, "in", ["x", "y"][i // 3 % 2] if i % 3 == 0 else None)
        _put(tags, "team", _opt(_TEAM, i))
        _put(tags, "note", _opt(_NOTE, i))
        _put(tags, "my key", "v" if i % 4 == 2 else None)
        _put(tags, "a.b", "y" if i % 5 == 3 else None)
        _put(tags, "模型", "值" if i % 8 == 1 else None)
        plans.append(
            ModelPlan(
                index=i,
                experiment=0 if i % 3 != 2 else 1,
                name=_NAMES[i] if i < len(_NAMES) else f"model-{i:02d}",
                params=params,
                tags=tags,
                model_type=_opt(_MODEL_TYPE, i),
                source_run={1: 0, 3: 1}.get(i % 4),
                status=_opt(_STATUS, i),
                deleted=i in _DELETED,
                late_params={"late": str(i)} if i % 10 == 4 else {},
                late_tags={"late": "t", "team": "late"} if i % 10 == 4 else {},
                removed_tags=("my key",) if i % 8 == 2 else (),
            )
        )
    return plans


def metric_rows() -> list[MetricRow]:
    """The metric rows of the data set (deterministic).

    ``acc`` (every model with metrics) follows one of four shapes, so that the latest row by
    ``(step, timestamp, value)`` differs from the maximum and (shapes 1, 2) from the first row:

    0. decline: 0.9x at step 0, then lower; step 2 has two rows (timestamps 1500 and 2000, the
       later one lowest), so 3.17 ("any row") and 3.18 ("latest row") disagree on ``acc > 0.9``;
    1. peak: low at step 0, the max at step 3 (ts 500), the latest at step 3 (ts 900), and a row at
       step 1 with the greatest timestamp (latest for 3.17's order_by, not for 3.18);
    2. tie: two rows at the same (step 5, ts 100) in different runs, the latest decided by value;
       the max at step 4;
    3. single row.

    ``loss`` (every third model) decreases over 5 steps alternating datasets; ``f1`` has no dataset;
    ``val.acc`` (a dotted key) is on ``eval``; ``my metric`` has a space; ``score`` carries NaN,
    +inf and -inf on models 0-3. Models with index % 6 == 5 have no metric at all.
    """
    rows = [row for i in range(_N_MODELS) for row in _metrics_of(i)]
    seen: set[tuple[int, int, str, int, int]] = set()
    for row in rows:  # SPEC §1: one metric of one model clashes at the same (timestamp, step, run)
        ident = (row.model, row.run, row.key, row.timestamp, row.step)
        assert ident not in seen, f"metric rows clash: {row}"
        seen.add(ident)
    return rows


def _metrics_of(i: int) -> list[MetricRow]:
    """The metric rows of model *i* (see :func:`metric_rows`)."""
    rows: list[MetricRow] = []
    if i % 6 == 5:
        return rows
    rng = random.Random(1000 + i)
    t = _T0 + i * 100_000

    def r(lo: float, hi: float) -> float:
        return round(rng.uniform(lo, hi), 4)

    def add(key: str, value: float, ts: int, step: int, ds: tuple[str, str] | None, run: int = 0) -> None:
        rows.append(MetricRow(i, run, key, value, t + ts, step, ds))

    shape = i % 4
    if shape == 0:
        add("acc", r(0.91, 0.99), 0, 0, _TRAIN1)
        add("acc", r(0.5, 0.7), 1000, 1, _TRAIN2)
        add("acc", r(0.1, 0.3), 2000, 2, _EVAL)
        add("acc", r(0.4, 0.5), 1500, 2, None)
    elif shape == 1:
        add("acc", r(0.05, 0.15), 0, 0, None)
        add("acc", r(0.92, 0.99), 500, 3, _TRAIN1)
        add("acc", r(0.6, 0.8), 900, 3, _TRAIN2)
        add("acc", r(0.3, 0.5), 3000, 1, _EVAL)
    elif shape == 2:
        add("acc", r(0.3, 0.4), 0, 0, _TRAIN1)
        add("acc", r(0.5, 0.55), 100, 5, _TRAIN1)
        add("acc", r(0.56, 0.6), 100, 5, _TRAIN2, run=1)
        add("acc", r(0.95, 0.99), 5000, 4, None, run=1)
    else:
        add("acc", r(0.2, 0.98), 0, 0, [_TRAIN1, _EVAL, None][i // 4 % 3])
    if i % 3 == 0:
        for step in range(5):
            add(
                "loss", round(2.0 / (step + 1) + r(0.0, 0.05), 4), 10 * step, step, [_TRAIN1, _EVAL][step % 2]
            )
    if i % 4 == 2:
        add("f1", r(0.1, 0.5), 0, 0, None)
        add("f1", r(0.5, 0.9), 0, 1, None)
    if i % 7 == 3:
        add("val.acc", r(0.5, 0.9), 0, 0, _EVAL)
    if i % 9 == 1:
        add("my metric", r(0.0, 1.0), 0, 0, _TRAIN2)
    if i < 4:
        add("score", [math.nan, math.inf, -math.inf, 1.5][i], 0, 0, None)
    if i == 3:
        add("score", math.inf, 10, 1, None)
    return rows


def _wire_value(value: float) -> float | str:
    """JSON has no NaN/inf: MLflow's protobuf parser takes them as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


@dataclass
class Seeded:
    """What :func:`seed` created on one server.

    ``models`` maps each *non-deleted* model id to the model object exactly as
    ``GET logged-models/{id}`` returns it under ``"model"`` (``{"info": ..., "data": ...}``; ``data``
    holds every metric row), in creation order. ``datasets`` lists the ``{dataset_name,
    dataset_digest}`` pairs metrics were logged with. ``plan_ids`` maps a :func:`model_plans` index
    to its model id (deleted ones included); ``runs`` lists each experiment's run ids;
    ``metrics`` are the rows as logged (NaN and inf as Python floats, before the store maps them).
    """

    version: str
    experiment_ids: list[str]
    datasets: list[dict[str, str]]
    models: dict[str, JSON]
    deleted_ids: list[str]
    plan_ids: dict[int, str]
    runs: dict[str, list[str]]
    metrics: list[MetricRow]

    @property
    def model_ids(self) -> set[str]:
        """The ids of the non-deleted models."""
        return set(self.models)


class SeededServer(NamedTuple):
    """A running server and the data set seeded into it."""

    server: MlflowServer
    seeded: Seeded


def seed(server: MlflowServer, *, threads: int = 4) -> Seeded:
    """Create the data set of :func:`model_plans` and :func:`metric_rows` on *server*.

    Models are created one at a time, in order (so creation timestamps increase with the index);
    the other calls run on *threads* threads. Takes a few seconds; raises :class:`RestError` if the
    server refuses anything.
    """
    rest = server.rest
    experiment_ids = [
        rest.post("experiments/create", {"name": f"lmfilter-conformance-{suffix}"})["experiment_id"]
        for suffix in ("a", "b")
    ]

    def new_run(exp: str, n: int) -> str:
        body = {"experiment_id": exp, "start_time": _T0, "run_name": f"seed-{n}"}
        run_id: str = rest.post("runs/create", body)["run"]["info"]["run_id"]
        return run_id

    runs = {exp: [new_run(exp, n) for n in range(2)] for exp in experiment_ids}
    plans = model_plans()
    ids: dict[int, str] = {}
    for plan in plans:
        exp = experiment_ids[plan.experiment]
        body: JSON = {
            "experiment_id": exp,
            "name": plan.name,
            "params": [{"key": k, "value": v} for k, v in plan.params.items()],
            "tags": [{"key": k, "value": v} for k, v in plan.tags.items()],
        }
        if plan.model_type is not None:
            body["model_type"] = plan.model_type
        if plan.source_run is not None:
            body["source_run_id"] = runs[exp][plan.source_run]
        ids[plan.index] = rest.post("logged-models", body)["model"]["info"]["model_id"]

    def finish(plan: ModelPlan) -> None:
        mid = ids[plan.index]
        path = f"logged-models/{quote_segment(mid)}"
        if plan.late_params:
            params = [{"key": k, "value": v} for k, v in plan.late_params.items()]
            rest.post(f"{path}/params", {"model_id": mid, "params": params})
        if plan.late_tags:
            rest.patch(f"{path}/tags", {"tags": [{"key": k, "value": v} for k, v in plan.late_tags.items()]})
        for key in plan.removed_tags:
            rest.delete(f"{path}/tags/{quote_segment(key)}")
        if plan.status is not None:
            rest.patch(path, {"model_id": mid, "status": plan.status})

    rows = metric_rows()
    by_run: dict[str, list[JSON]] = {}
    for row in rows:
        exp = experiment_ids[plans[row.model].experiment]
        metric: JSON = {
            "key": row.key,
            "value": _wire_value(row.value),
            "timestamp": row.timestamp,
            "step": row.step,
            "model_id": ids[row.model],
        }
        if row.dataset is not None:
            metric["dataset_name"], metric["dataset_digest"] = row.dataset
        by_run.setdefault(runs[exp][row.run], []).append(metric)

    def log(batch: tuple[str, list[JSON]]) -> None:
        rest.post("runs/log-batch", {"run_id": batch[0], "metrics": batch[1]})

    batches = [(run, ms[k : k + 1000]) for run, ms in by_run.items() for k in range(0, len(ms), 1000)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(finish, plans))
        list(pool.map(log, batches))
        deleted = [ids[p.index] for p in plans if p.deleted]
        list(pool.map(lambda mid: rest.delete(f"logged-models/{quote_segment(mid)}"), deleted))
        kept = [ids[p.index] for p in plans if not p.deleted]
        fetched = list(pool.map(lambda mid: rest.get(f"logged-models/{quote_segment(mid)}")["model"], kept))
    return Seeded(
        version=server.version,
        experiment_ids=experiment_ids,
        datasets=[{"dataset_name": n, "dataset_digest": d} for n, d in DATASETS],
        models=dict(zip(kept, fetched, strict=True)),
        deleted_ids=deleted,
        plan_ids=ids,
        runs=runs,
        metrics=rows,
    )


# --------------------------------------------------------------------------------------------------
# Search


def iter_search(
    server: MlflowServer,
    experiment_ids: Sequence[str],
    filter: str | None = None,  # noqa: A002 - the API's own name
    datasets: Sequence[Mapping[str, Any]] | None = None,
    order_by: Sequence[Mapping[str, Any]] | None = None,
    page_size: int = 50,
) -> Iterator[JSON]:
    """Yield every model a ``logged-models/search`` returns, following ``next_page_token``.

    Keys left as None are not sent. Raises :class:`RestError` (``status``, ``error_code``,
    ``message``) when the server rejects a page.
    """
    body: JSON = {"experiment_ids": list(experiment_ids), "max_results": page_size}
    if filter is not None:
        body["filter"] = filter
    if datasets is not None:
        body["datasets"] = [dict(d) for d in datasets]
    if order_by is not None:
        body["order_by"] = [dict(o) for o in order_by]
    while True:
        page = server.rest.post("logged-models/search", body)
        yield from page.get("models", [])
        token = page.get("next_page_token")
        if not token:
            return
        body["page_token"] = token


def search_all(
    server: MlflowServer,
    experiment_ids: Sequence[str],
    filter: str | None = None,  # noqa: A002 - the API's own name
    datasets: Sequence[Mapping[str, Any]] | None = None,
    order_by: Sequence[Mapping[str, Any]] | None = None,
    page_size: int = 50,
) -> list[str]:
    """The model ids of a search across all pages, in server order (see :func:`iter_search`)."""
    return [
        m["info"]["model_id"]
        for m in iter_search(server, experiment_ids, filter, datasets, order_by, page_size)
    ]
