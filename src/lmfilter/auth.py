"""Where a client connects and who it is, from the environment MLflow and Databricks users already have.

:func:`mlflow_settings` reads ``MLFLOW_TRACKING_URI`` as MLflow does: an ``http(s)://`` server (with
``MLFLOW_TRACKING_TOKEN``, or ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``; TLS from
``MLFLOW_TRACKING_INSECURE_TLS``, ``MLFLOW_TRACKING_SERVER_CERT_PATH`` and
``MLFLOW_TRACKING_CLIENT_CERT_PATH``), or ``databricks`` / ``databricks://PROFILE`` for a Databricks
workspace. A local store (``file:``, ``sqlite:``, a path, ...) is refused in words: lmfilter talks to a
tracking server.

:func:`databricks_settings` authenticates as the Databricks SDK does, through its own
``databricks.sdk.core.Config`` (``DATABRICKS_HOST``, ``DATABRICKS_TOKEN``, profiles in ``~/.databrickscfg``,
OAuth machine-to-machine, ...), when the ``databricks`` extra is installed; without it a host and a token
still work. :class:`ConfigAuth` asks the Config for headers on every request, so OAuth tokens refresh.

No secret is ever part of a message or a repr here.

>>> mlflow_settings(environ={"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"})
Traceback (most recent call last):
...
ValueError: MLFLOW_TRACKING_URI is 'sqlite:///mlflow.db', a local store: lmfilter talks to a tracking \
server (run `mlflow server --backend-store-uri sqlite:///mlflow.db` and set MLFLOW_TRACKING_URI to its \
http:// URL)
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

__all__ = [
    "EXTRA_HINT",
    "ConfigAuth",
    "HeaderSource",
    "Settings",
    "databricks_host",
    "databricks_settings",
    "mlflow_settings",
    "shown_url",
]

EXTRA_HINT = "pip install 'lmfilter[databricks]'"

_TRUE, _FALSE = ("true", "1"), ("false", "0")

_USERINFO = re.compile(r"(?<=//).*@")  # greedy: a password may hold '@', '/', '?' or '#' itself
_QUERY = re.compile(r"[?#].*")


def shown_url(url: str) -> str:
    """A server URL to show: any user and password in it replaced by ``***``, and any query or fragment
    (where a token may travel) by ``?***``.

    >>> shown_url("http://me:pw@host:5000/x")
    'http://***@host:5000/x'
    >>> shown_url("http://me:p@s/s?#w@host:5000/x?token=secret")
    'http://***@host:5000/x?***'
    """
    url = _USERINFO.sub("***@", url, count=1)
    return _QUERY.sub("?***", url, count=1)


class HeaderSource(Protocol):
    """What :class:`ConfigAuth` needs of a Databricks SDK ``Config``: fresh auth headers on each call."""

    def authenticate(self) -> dict[str, str]: ...


class ConfigAuth(httpx.Auth):
    """An ``httpx.Auth`` that asks a Databricks SDK ``Config`` for the auth headers of every request (the
    Config refreshes OAuth tokens itself); ``on_secret`` is told each credential sent, so a client can keep
    it out of what it shows. Async clients ask in a worker thread: a refresh is a blocking request."""

    def __init__(self, config: HeaderSource, on_secret: Callable[[str], None] | None = None) -> None:
        self._config = config
        self.on_secret = on_secret

    def _apply(self, request: httpx.Request, headers: Mapping[str, str]) -> httpx.Request:
        for name, value in headers.items():
            if self.on_secret is not None and name.lower() == "authorization":
                self.on_secret(value.partition(" ")[2] or value)
            request.headers[name] = value
        return request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield self._apply(request, self._config.authenticate())

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        headers = await asyncio.to_thread(self._config.authenticate)
        yield self._apply(request, headers)

    def __repr__(self) -> str:
        kind = getattr(self._config, "auth_type", None)
        return f"ConfigAuth(auth_type={kind!r})"


@dataclass(frozen=True)
class Settings:
    """Where to connect and how to authenticate, before any client is made (never shown: see repr)."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    auth: httpx.Auth | None = None
    verify: ssl.SSLContext | bool = True
    target: str | None = None  # "databricks" for a workspace; an MLflow server's is read from /version


# ---- MLflow ------------------------------------------------------------------------------------------


def _flag(environ: Mapping[str, str], name: str) -> bool:
    """A boolean variable as MLflow reads it: ``true``/``false``/``1``/``0`` in any case, unset is false."""
    value = environ.get(name)
    if value is None or value == "":
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"{name} is {value!r}: expected true or false (or 1 or 0)")


def _tls(environ: Mapping[str, str]) -> ssl.SSLContext | bool:
    insecure = _flag(environ, "MLFLOW_TRACKING_INSECURE_TLS")
    server_cert = environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None
    client_cert = environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None
    if insecure and server_cert:
        raise ValueError(
            "MLFLOW_TRACKING_INSECURE_TLS is true and MLFLOW_TRACKING_SERVER_CERT_PATH is set: "
            "give one of them (MLflow refuses both too)"
        )
    if insecure:
        return False
    if not server_cert and not client_cert:
        return True
    try:
        context = ssl.create_default_context(cafile=server_cert)
        if client_cert:
            context.load_cert_chain(client_cert)
    except (OSError, ssl.SSLError) as error:
        which = "MLFLOW_TRACKING_CLIENT_CERT_PATH" if client_cert else "MLFLOW_TRACKING_SERVER_CERT_PATH"
        raise ValueError(f"{which}: cannot load the certificate ({error})") from None
    return context


def _scheme(uri: str) -> str:
    head, sep, _ = uri.partition(":")
    # A Windows drive letter (C:\...) is a path, not a scheme.
    return head.lower() if sep and len(head) > 1 else ""


def mlflow_settings(
    tracking_uri: str | None = None,
    *,
    token: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The settings of the tracking server ``tracking_uri`` (default ``MLFLOW_TRACKING_URI``) as MLflow
    reads its environment. A ``token`` given here replaces ``MLFLOW_TRACKING_TOKEN``. With both a token
    and a user and password, basic auth is sent, as MLflow's own client does."""
    env = os.environ if environ is None else environ
    uri = tracking_uri if tracking_uri is not None else env.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        raise ValueError(
            "no tracking server: set MLFLOW_TRACKING_URI (e.g. http://localhost:5000, or databricks), "
            "or give --server URL / --host HOST"
        )
    scheme = _scheme(uri)
    if scheme == "databricks" or uri == "databricks":
        profile = _databricks_profile(uri)
        return databricks_settings(token=token, profile=profile, environ=env)
    if scheme not in ("http", "https"):
        shown = shown_url(uri)
        raise ValueError(
            f"MLFLOW_TRACKING_URI is {shown!r}, a local store: lmfilter talks to a tracking server "
            f"(run `mlflow server --backend-store-uri {shown}` and set MLFLOW_TRACKING_URI to its "
            "http:// URL)"
            if tracking_uri is None
            else f"not a tracking server's URL: {shown!r} (expected http://HOST[:PORT], https://..., "
            "databricks or databricks://PROFILE)"
        )
    user = env.get("MLFLOW_TRACKING_USERNAME") or None
    password = env.get("MLFLOW_TRACKING_PASSWORD") or None
    if (user is None) != (password is None):
        given, missing = (
            ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
            if user
            else ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_USERNAME")
        )
        raise ValueError(f"{given} is set but {missing} is not: basic auth needs both")
    basic = (user, password) if user is not None and password is not None else None
    token = token or env.get("MLFLOW_TRACKING_TOKEN") or None
    return Settings(uri, None if basic else token, basic, verify=_tls(env))


def _databricks_profile(uri: str) -> str | None:
    """The profile of ``databricks`` or ``databricks://PROFILE`` (MLflow's secret-scope form is not taken)."""
    rest = uri[len("databricks") :]
    if rest in ("", ":", "://"):
        return None
    if not rest.startswith("://"):
        raise ValueError(
            f"not a Databricks tracking URI: {uri!r} (expected databricks or databricks://PROFILE)"
        )
    profile = rest[3:].rstrip("/")
    if ":" in profile or "/" in profile or "@" in profile:
        raise ValueError(
            f"MLFLOW_TRACKING_URI {uri.split('@')[-1]!r}: lmfilter takes databricks://PROFILE (a profile "
            "of ~/.databrickscfg), not a secret scope"
        )
    return profile


# ---- Databricks --------------------------------------------------------------------------------------


def databricks_host(deployment_name: str | None, host: str | None) -> str | None:
    """``https://NAME.cloud.databricks.com`` for a deployment name, else ``host`` with ``https://`` added
    when it has no scheme; ``None`` when neither is given."""
    if deployment_name:
        if not _is_label(deployment_name):
            raise ValueError(
                f"a deployment name is one DNS label (letters, digits, '-'), not {deployment_name!r}"
            )
        return f"https://{deployment_name}.cloud.databricks.com"
    if host:
        return host if "://" in host else f"https://{host}"
    return None


def _is_label(name: str) -> bool:
    return (
        0 < len(name) <= 63
        and name.isascii()
        and name.replace("-", "").isalnum()
        and not name.startswith("-")
        and not name.endswith("-")
    )


def _sdk_config() -> type[Any] | None:
    try:
        from databricks.sdk.core import Config
    except ImportError:
        return None
    config: type[Any] = Config
    return config


def databricks_settings(
    deployment_name: str | None = None,
    token: str | None = None,
    *,
    host: str | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    on_secret: Callable[[str], None] | None = None,
) -> Settings:
    """The settings of a Databricks workspace. A ``token`` given here is sent as it is. Otherwise the
    Databricks SDK's Config decides, as for every Databricks tool: ``DATABRICKS_HOST``,
    ``DATABRICKS_TOKEN``, a ``profile`` (or ``DATABRICKS_CONFIG_PROFILE``) of ``~/.databrickscfg``
    (``DATABRICKS_CONFIG_FILE``), OAuth machine-to-machine (``DATABRICKS_CLIENT_ID`` and
    ``DATABRICKS_CLIENT_SECRET``), ... Without the SDK, ``DATABRICKS_HOST`` and ``DATABRICKS_TOKEN`` work;
    anything more says to install the extra."""
    env = os.environ if environ is None else environ
    base = databricks_host(deployment_name, host)
    wants = _wants_sdk(profile, env)
    # A token and a host at hand are all a personal access token needs: sent as the SDK would send it,
    # without its start-up probe of the host, and without the SDK installed.
    plain_token = token or env.get("DATABRICKS_TOKEN")
    plain_host = base or env.get("DATABRICKS_HOST")
    if plain_token and plain_host and not (profile or (wants and not token)):
        return Settings(databricks_host(None, plain_host) or plain_host, plain_token, target="databricks")
    config_class = _sdk_config()
    if config_class is None:
        return _without_sdk(wants, plain_host, plain_token)
    options = {"host": base, "profile": profile, "token": token}
    try:
        config = config_class(**{k: v for k, v in options.items() if v})
    except ValueError as error:
        # The SDK's message names what it tried, with secrets as ***.
        raise ValueError(f"Databricks authentication: {error}") from None
    if not config.host:
        raise ValueError("Databricks authentication: no host (give --host, or set DATABRICKS_HOST)")
    return Settings(str(config.host), auth=ConfigAuth(config, on_secret), target="databricks")


def _wants_sdk(profile: str | None, env: Mapping[str, str]) -> str | None:
    """What asks for more than a token, in words: a profile, or OAuth machine-to-machine."""
    if profile:
        return f"the profile {profile!r}"
    if env.get("DATABRICKS_CONFIG_PROFILE"):
        return "the profile in DATABRICKS_CONFIG_PROFILE"
    if env.get("DATABRICKS_CLIENT_ID"):
        return "OAuth (DATABRICKS_CLIENT_ID)"
    return None


def _without_sdk(wants: str | None, host: str | None, token: str | None) -> Settings:
    if wants:
        raise ValueError(f"{wants} needs the Databricks SDK: {EXTRA_HINT}")
    if not host:
        raise ValueError(
            f"give deployment_name=, host= (--host), or set DATABRICKS_HOST (or {EXTRA_HINT} for profiles)"
        )
    raise ValueError(
        "a Databricks workspace needs a token: give token= (--token) or set DATABRICKS_TOKEN "
        f"(or {EXTRA_HINT} for profiles in ~/.databrickscfg and OAuth)"
    )
