"""Clients from the environment MLflow and Databricks users have: MLFLOW_TRACKING_*, DATABRICKS_*, profiles
in a (fake) ~/.databrickscfg and OAuth machine-to-machine through the Databricks SDK's own Config.

The workspace is a real HTTP server on 127.0.0.1 (:class:`tests.hostile_server.HostileServer`): it answers
the SDK's own discovery and token requests and lmfilter's API requests, and records what each carried.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmfilter.auth import ConfigAuth, mlflow_settings
from lmfilter.cli import main
from lmfilter.client import AsyncClient, BadRequestError, Client
from tests.hostile_server import HostileServer, Reply, Seen

SECRET = "dapi-very-secret-0123"
CLIENT_SECRET = "oauth-client-secret-456"
ACCESS_TOKEN = "oauth-access-token-789"


def model(model_id: str = "m-1") -> dict[str, Any]:
    return {"model": {"info": {"model_id": model_id, "status": "LOGGED_MODEL_READY"}}}


class Workspace:
    """A loopback Databricks workspace: host metadata, OIDC discovery and token endpoint, and the API
    (``GET logged-models/{id}`` answers a model; ``GET logged-models/echo`` echoes the Authorization
    header in a 400, as a careless server might)."""

    def __init__(self) -> None:
        self.server = HostileServer(self.answer)
        self.tokens_issued = 0

    def answer(self, seen: Seen) -> Reply:
        base = self.server.base_url
        path = seen.path.split("?")[0]
        if path == "/.well-known/databricks-config":
            return Reply.json({"oidc_endpoint": f"{base}/oidc", "workspace_id": "1"})
        if path == "/oidc/.well-known/oauth-authorization-server":
            return Reply.json(
                {
                    "token_endpoint": f"{base}/oidc/v1/token",
                    "authorization_endpoint": f"{base}/oidc/v1/authorize",
                }
            )
        if path == "/oidc/v1/token":
            self.tokens_issued += 1
            return Reply.json({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600})
        if path.endswith("/logged-models/echo"):
            echoed = seen.headers.get("authorization", "")
            return Reply.json({"error_code": "BAD_REQUEST", "message": f"bad header {echoed}"}, status=400)
        if path.startswith("/api/2.0/mlflow/logged-models/"):
            return Reply.json(model(path.rsplit("/", 1)[1]))
        return Reply.json({"error_code": "ENDPOINT_NOT_FOUND"}, status=404)

    def api_requests(self) -> list[Seen]:
        return [r for r in self.server.requests if r.path.startswith("/api/")]


@pytest.fixture
def workspace() -> Iterator[Workspace]:
    ws = Workspace()
    with ws.server:
        yield ws


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No variable of the machine running the tests leaks in; HOME is an empty directory."""
    import os

    for name in list(os.environ):
        if name.startswith(("MLFLOW_", "DATABRICKS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / ".databrickscfg"))
    return tmp_path


def without_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "databricks.sdk.core", None)  # as if the extra were not installed


def write_profiles(home: Path, text: str) -> None:
    (home / ".databrickscfg").write_text(text, encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ---- MLflow's environment ----------------------------------------------------------------------------


def test_mlflow_tracking_uri_token_and_basic_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", SECRET)
    settings = mlflow_settings()
    assert (settings.base_url, settings.token, settings.basic_auth) == ("http://127.0.0.1:5000", SECRET, None)
    assert SECRET not in repr(settings)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "me")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw")
    settings = mlflow_settings()
    assert (settings.token, settings.basic_auth) == (None, ("me", "pw"))  # basic wins, as in MLflow
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    with pytest.raises(
        ValueError, match="MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not"
    ):
        mlflow_settings()


@pytest.mark.parametrize(
    ("value", "verify"), [("true", False), ("TRUE", False), ("1", False), ("false", True), ("0", True)]
)
def test_insecure_tls_as_mlflow_reads_it(monkeypatch: pytest.MonkeyPatch, value: str, verify: bool) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.example.com")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", value)
    assert mlflow_settings().verify is verify


def test_tls_settings_that_cannot_work_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.example.com")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "yes")
    with pytest.raises(ValueError, match="MLFLOW_TRACKING_INSECURE_TLS is 'yes': expected true or false"):
        mlflow_settings()
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tmp_path / "ca.pem"))
    with pytest.raises(ValueError, match="give one of them"):
        mlflow_settings()
    monkeypatch.delenv("MLFLOW_TRACKING_INSECURE_TLS")
    with pytest.raises(ValueError, match="MLFLOW_TRACKING_SERVER_CERT_PATH: cannot load"):
        mlflow_settings()


@pytest.mark.parametrize(
    "uri",
    ["file:///tmp/mlruns", "sqlite:///mlflow.db", "postgresql://u:pw@db/mlflow", "./mlruns", "C:\\mlruns"],
)
def test_a_local_store_is_refused_in_words(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(ValueError, match="a local store: lmfilter talks to a tracking server") as caught:
        Client.from_env()
    assert "pw" not in str(caught.value)  # a database password in the URI is not shown


def test_no_tracking_uri_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="set MLFLOW_TRACKING_URI"):
        Client.from_env()


def test_from_env_sends_the_token_accept_and_user_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Seen] = []

    def answer(request: Seen) -> Reply:
        seen.append(request)
        return Reply.json(model())

    with HostileServer(answer) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.base_url)
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", SECRET)
        with Client.from_env(target="mlflow") as client:
            assert client.get("m-1").model_id == "m-1"
            assert SECRET not in repr(client)
    headers = seen[0].headers
    assert headers["authorization"] == f"Bearer {SECRET}"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("lmfilter/0.")
    assert " httpx/" in headers["user-agent"]
    assert " python/3." in headers["user-agent"]


def test_cli_uses_mlflow_environment_without_server_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with HostileServer(lambda seen: Reply.json(model("m-9"))) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.base_url)
        status, out, _ = run(capsys, "models", "get", "m-9")
    assert status == 0
    assert json.loads(out)["info"]["model_id"] == "m-9"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///x.db")
    status, _, err = run(capsys, "models", "get", "m-9")
    assert status == 1
    assert "a local store: lmfilter talks to a tracking server" in err
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    status, _, err = run(capsys, "search", "", "--experiment-id", "1")
    assert (status, "set MLFLOW_TRACKING_URI" in err) == (1, True)


# ---- Databricks ---------------------------------------------------------------------------------------


def test_plain_host_and_token_work_without_the_sdk(
    monkeypatch: pytest.MonkeyPatch, workspace: Workspace
) -> None:
    without_sdk(monkeypatch)
    monkeypatch.setenv("DATABRICKS_HOST", workspace.server.base_url)
    monkeypatch.setenv("DATABRICKS_TOKEN", SECRET)
    with Client.for_databricks() as client:
        assert client.get("m-1").model_id == "m-1"
        assert client.target.name == "databricks"
    [request] = workspace.api_requests()
    assert request.headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            {"profile": "dev"},
            "the profile 'dev' needs the Databricks SDK: pip install 'lmfilter[databricks]'",
        ),
        ({"DATABRICKS_CLIENT_ID": "x"}, "OAuth (DATABRICKS_CLIENT_ID) needs the Databricks SDK"),
        ({"DATABRICKS_CONFIG_PROFILE": "dev"}, "the profile in DATABRICKS_CONFIG_PROFILE needs"),
        ({"DATABRICKS_HOST": "h.example.com"}, "needs a token"),
    ],
)
def test_more_than_a_token_without_the_sdk_says_to_install_it(
    monkeypatch: pytest.MonkeyPatch, setup: dict[str, str], message: str
) -> None:
    without_sdk(monkeypatch)
    profile = setup.pop("profile", None)
    for name, value in setup.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="lmfilter\\[databricks\\]") as caught:
        Client.for_databricks(host="h.example.com", profile=profile)
    text = str(caught.value)
    assert message in text
    assert "pip install 'lmfilter[databricks]'" in text
    assert "\n" not in text


def test_a_profile_of_databrickscfg(
    monkeypatch: pytest.MonkeyPatch, workspace: Workspace, clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_profiles(clean_env, f"[dev]\nhost = {workspace.server.base_url}\ntoken = {SECRET}\n")
    with Client.for_databricks(profile="dev") as client:
        assert client.get("m-1").model_id == "m-1"
        assert SECRET not in repr(client)
    assert workspace.api_requests()[0].headers["authorization"] == f"Bearer {SECRET}"
    # The same profile through MLflow's URI, and through the CLI.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "databricks://dev")
    with Client.from_env() as client:
        assert client.get("m-2").model_id == "m-2"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    status, out, err = run(capsys, "models", "get", "m-3", "--profile", "dev")
    assert (status, json.loads(out)["info"]["model_id"]) == (0, "m-3")
    assert SECRET not in out + err
    status, _, err = run(capsys, "models", "get", "m-3", "--profile", "nope")
    assert status == 1
    assert "nope" in err
    assert SECRET not in err


def test_databricks_default_profile_from_mlflow_uri(
    monkeypatch: pytest.MonkeyPatch, workspace: Workspace, clean_env: Path
) -> None:
    write_profiles(clean_env, f"[DEFAULT]\nhost = {workspace.server.base_url}\ntoken = {SECRET}\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "databricks")
    with Client.from_env() as client:
        assert client.target.name == "databricks"
        assert client.get("m-1").model_id == "m-1"


def test_mlflow_databricks_secret_scope_uri_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "databricks://scope:prefix")
    with pytest.raises(ValueError, match="not a secret scope"):
        Client.from_env()


def test_oauth_machine_to_machine(monkeypatch: pytest.MonkeyPatch, workspace: Workspace) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", workspace.server.base_url)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-1")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", CLIENT_SECRET)
    with Client.for_databricks() as client:
        assert client.get("m-1").model_id == "m-1"
        assert client.get("m-2").model_id == "m-2"
        # A server that echoes the credential: the token fetched by the SDK is still not shown.
        with pytest.raises(BadRequestError) as caught:
            client.get("echo")
        shown = str(caught.value)
        assert "bad header Bearer ***" in shown
        assert ACCESS_TOKEN not in shown
        assert ACCESS_TOKEN not in repr(client)
    assert workspace.tokens_issued == 1  # cached by the SDK until it expires
    assert {r.headers["authorization"] for r in workspace.api_requests()} == {f"Bearer {ACCESS_TOKEN}"}
    token_request = next(r for r in workspace.server.requests if r.path == "/oidc/v1/token")
    assert b"client_credentials" in token_request.body


def test_oauth_with_the_async_client(monkeypatch: pytest.MonkeyPatch, workspace: Workspace) -> None:
    import asyncio

    monkeypatch.setenv("DATABRICKS_HOST", workspace.server.base_url)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-1")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", CLIENT_SECRET)

    async def main() -> str:
        async with AsyncClient.for_databricks() as client:
            assert client.target.name == "databricks"  # known without asking: given by for_databricks
            return (await client.get("m-5")).model_id

    assert asyncio.run(main()) == "m-5"
    assert workspace.api_requests()[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_config_auth_asks_for_headers_on_every_request() -> None:
    """Tokens refresh: the Config is asked per request, never once for the client's life."""

    class Rotating:
        auth_type = "oauth-m2m"
        calls = 0

        def authenticate(self) -> dict[str, str]:
            self.calls += 1
            return {"Authorization": f"Bearer token-{self.calls}"}

    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["Authorization"])
        return httpx.Response(200, json=model())

    config = Rotating()
    auth = ConfigAuth(config)
    with Client(
        "https://acme.cloud.databricks.com",
        auth=auth,
        target="databricks",
        transport=httpx.MockTransport(answer),
    ) as client:
        client.get("m-1")
        client.get("m-1")
    assert sent == ["Bearer token-1", "Bearer token-2"]
    assert "token" not in repr(auth).replace("auth_type", "")


def test_the_sdk_error_is_one_clear_line_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", CLIENT_SECRET)
    with pytest.raises(ValueError, match="Databricks authentication") as caught:
        Client.for_databricks(profile="missing")
    assert CLIENT_SECRET not in str(caught.value)
