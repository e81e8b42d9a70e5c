"""Secrets in crash dumps and exceptions: a planted key, echoed back by a hostile or buggy
provider in every way it could be (error body, text body, headers; raw, base64,
URL-encoded), never survives into anything that is shown, logged or stored:

- `str`, `repr`, `args`, the whole traceback chain, and the pickle DBOS would store of
  every provider error, from every client and every error status;
- the verdict of a key check;
- `repr` of clients, settings and the vault;
- log records (formatted tracebacks included) and the interpreter's own crash dumps
  (an uncaught exception in the main thread, in another thread, in an asyncio task).
"""

from __future__ import annotations

import base64
import json
import logging
import pickle
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr
from starlette.types import Receive, Scope, Send

from tests.conftest import new_master_key
from tools.clients import (
    GitHubClient,
    HuggingFaceClient,
    NetlifyClient,
    OpenRouterClient,
    ProviderError,
    RunPodClient,
    RunPodJobsClient,
    VercelClient,
    validate_key,
)
from tools.clients._http import Retry
from tools.simulator.clock import FakeClock
from tools.simulator.server import ServedApp
from vault import REDACTOR, Settings, Vault, install_log_redaction
from vault.redact import MASK, Redactor, encoded_forms
from vault.settings import Settings as SettingsClass

PLANTED = "rpa_PLANTEDsecretVALUE0123456789abcdefXYZ"
STATUSES = [400, 401, 403, 404, 409, 422, 429, 500, 503]


def forms(secret: str) -> set[str]:
    return encoded_forms(secret) | {base64.b64encode(secret.encode()).decode()}


def leaked(text: str, secret: str = PLANTED) -> list[str]:
    return sorted(form for form in forms(secret) if form in text)


class Echo:
    """A provider that reflects the request's key back in its error: the body (JSON or
    text, raw, base64 and URL-encoded, and the whole header line) and a response header."""

    def __init__(self) -> None:
        self.status = 401
        self.json = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        token = auth.split(" ", 1)[-1]
        echoed = (
            f"Bad credentials: {auth!r} token={token} "
            f"b64={base64.b64encode(token.encode()).decode()} url={quote(token, safe='')}"
        )
        if self.json:
            body = json.dumps({"message": echoed, "error": {"message": echoed, "token": token},
                               "errors": [{"message": echoed}]}).encode()  # fmt: skip
            kind = b"application/json"
        else:
            body, kind = echoed.encode(), b"text/plain"
        await send({"type": "http.response.start", "status": self.status, "headers": [
            (b"content-type", kind), (b"x-echo", token.encode()), (b"retry-after", b"1"),
            (b"x-request-id", b"req-echo"), (b"x-error-message", echoed.encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[Echo, str]]:
    app = Echo()
    served = ServedApp(app)
    yield app, served.url
    served.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def retry() -> Retry:
    clock = FakeClock()
    return Retry(max_attempts=2, sleep=clock.sleep, clock=clock.now)


Call = Callable[[str, httpx.AsyncClient, Retry], Awaitable[Any]]
KEY = SecretStr(PLANTED)
CALLS: dict[str, Call] = {
    "openrouter": lambda u, h, r: OpenRouterClient(http=h, base_url=u, token=KEY, retry=r).key(),
    "huggingface": lambda u, h, r: HuggingFaceClient(
        http=h, base_url=u, token=KEY, retry=r).whoami(),
    "huggingface-file": lambda u, h, r: HuggingFaceClient(
        http=h, base_url=u, token=KEY, retry=r).read_json("owner/name", "config.json"),
    "runpod": lambda u, h, r: RunPodClient(http=h, base_url=u, token=KEY, retry=r).list_endpoints(),
    "runpod-logs": lambda u, h, r: RunPodClient(
        http=h, base_url=u, token=KEY, retry=r).worker_logs("ep", "w1", budget_s=2.0),
    "runpod-jobs": lambda u, h, r: RunPodJobsClient(
        http=h, base_url=u, token=KEY, retry=r).health("ep"),
    "github": lambda u, h, r: GitHubClient(http=h, base_url=u, token=KEY, retry=r).user(),
    "vercel": lambda u, h, r: VercelClient(http=h, base_url=u, token=KEY, retry=r).user(),
    "netlify": lambda u, h, r: NetlifyClient(http=h, base_url=u, token=KEY, retry=r).user(),
}  # fmt: skip


def renderings(err: BaseException) -> dict[str, str]:
    """Every way an exception gets shown, logged or stored."""
    return {
        "str": str(err),
        "repr": repr(err),
        "args": repr(err.args),
        "attributes": repr(vars(err)),
        "traceback chain": "".join(traceback.format_exception(err)),
        "pickle (as DBOS stores a step's error)": pickle.dumps(err).decode("latin-1"),
    }


# A 404 without `X-Error-Code` on a Hub file read means "no such file": `read_json` returns
# None, so there is no error to render (see the test after this one).
_NOT_AN_ERROR = {("huggingface-file", 404)}


def _cells() -> Iterator[Any]:
    for client in sorted(CALLS):
        for status in STATUSES:
            if (client, status) in _NOT_AN_ERROR:
                continue
            for body in ("json", "text"):
                yield pytest.param(client, status, body, id=f"{client}-{status}-{body}")


@pytest.mark.parametrize(("client", "status", "body"), list(_cells()))
async def test_an_echoed_key_is_in_no_rendering_of_the_error(
    echo: tuple[Echo, str], http: httpx.AsyncClient, retry: Retry,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
    client: str, status: int, body: str,
) -> None:  # fmt: skip
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    caplog.set_level(logging.DEBUG)
    install_log_redaction()  # as the app does; the key was registered when it was decrypted
    REDACTOR.register(PLANTED)
    app, url = echo
    app.status, app.json = status, body == "json"
    with pytest.raises(ProviderError) as caught:
        await CALLS[client](url, http, retry)
    err = caught.value
    assert err.message, "every error carries a message for the user"
    for name, text in renderings(err).items():
        assert not leaked(text), f"{client} {status}: the key is in the error's {name}"
    assert not leaked(caplog.text), f"{client} {status}: the key is in the log"


@pytest.mark.parametrize("body", ["json", "text"])
async def test_an_echoed_key_on_a_missing_hub_file_is_not_logged(
    echo: tuple[Echo, str], http: httpx.AsyncClient, retry: Retry,
    caplog: pytest.LogCaptureFixture, body: str,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    install_log_redaction()
    REDACTOR.register(PLANTED)
    app, url = echo
    app.status, app.json = 404, body == "json"
    assert await CALLS["huggingface-file"](url, http, retry) is None
    assert caplog.text and not leaked(caplog.text)


@pytest.mark.parametrize("status", [401, 403, 500])
@pytest.mark.parametrize(
    "provider", ["openrouter", "huggingface", "runpod", "github", "vercel", "netlify"]
)
async def test_a_key_check_verdict_never_carries_the_key(
    echo: tuple[Echo, str], http: httpx.AsyncClient, retry: Retry,
    monkeypatch: pytest.MonkeyPatch, provider: str, status: int,
) -> None:  # fmt: skip
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    app, url = echo
    app.status, app.json = status, True
    base = {"openrouter": "openrouter_base_url", "huggingface": "huggingface_base_url",
            "runpod": "runpod_rest_base_url", "github": "github_api_base_url",
            "vercel": "vercel_base_url", "netlify": "netlify_base_url"}[provider]  # fmt: skip
    settings = Settings(**{base: url})  # type: ignore[arg-type]
    try:
        verdict = await validate_key(provider, KEY, settings=settings, http=http, retry=retry)
    except ProviderError as err:
        text = "\n".join(renderings(err).values())
    else:
        text = verdict.model_dump_json()
    assert not leaked(text)


def test_clients_settings_and_the_vault_render_without_secrets(tmp_path: Any) -> None:
    secrets = {
        "master_key": new_master_key(), "openrouter_api_key": "sk-or-v1-" + "a1B2" * 12,
        "auth_secret": "jwt-" + "Zz9" * 16, "github_oauth_client_secret": "ghos_" + "Q7w" * 12,
    }  # fmt: skip
    fields = {k: SecretStr(v) for k, v in secrets.items()}
    settings = SettingsClass(home=tmp_path, **fields)  # pyright: ignore[reportArgumentType]
    http = httpx.AsyncClient()
    clients = [cls(http=http, base_url="http://127.0.0.1:9", token=KEY)
               for cls in (OpenRouterClient, RunPodClient, RunPodJobsClient, GitHubClient,
                           VercelClient, NetlifyClient, HuggingFaceClient)]  # fmt: skip
    shown = [repr(settings), str(settings), settings.model_dump_json(), *map(repr, clients),
             *(repr(vars(c)) for c in clients)]  # fmt: skip
    for text in shown:
        assert not leaked(text)
        for value in secrets.values():
            assert value not in text


async def test_the_vault_repr_shows_no_key_material(tmp_path: Any) -> None:
    master = new_master_key()
    vault = await Vault.open(SettingsClass(home=tmp_path, master_key=SecretStr(master)))
    try:
        user = await vault.users.create("ann", SecretStr("correct horse battery"))
        await vault.credentials.add(user.id, "runpod", KEY)
        text = repr(vault) + repr(vars(vault.credentials)) + repr(vault.master)
        assert master not in text and vault.master.material.hex() not in text
        assert not leaked(text)
    finally:
        await vault.close()
        REDACTOR.clear()


CRASH = r"""
import asyncio, logging, sys, threading
from vault import REDACTOR, install_log_redaction
install_log_redaction()
logging.basicConfig(level=logging.INFO)
REDACTOR.register({key!r})
where = sys.argv[1]
def boom():
    raise RuntimeError("provider said: Bearer {key}")
if where == "thread":
    t = threading.Thread(target=boom); t.start(); t.join()
elif where == "task":
    async def failing():
        boom()
    async def main():
        task = asyncio.get_running_loop().create_task(failing())
        await asyncio.sleep(0.05)
        del task  # never awaited: asyncio reports it when the task is collected
    asyncio.run(main())
elif where == "log":
    try:
        boom()
    except RuntimeError:
        logging.getLogger("x").exception("failed with %s", {key!r})
else:
    boom()
"""


@pytest.mark.parametrize("where", ["main", "thread", "task", "log"])
def test_crash_dumps_on_stderr_are_redacted(where: str) -> None:
    from tests.services.kriptik import PROJECT_ROOT

    run = subprocess.run(
        [sys.executable, "-c", CRASH.format(key=PLANTED), where],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert "RuntimeError" in out or "failed with" in out, out  # the crash was reported
    assert not leaked(out), out


def test_long_and_overlapping_secrets_are_masked_whole() -> None:
    """A service-account JSON (thousands of characters), keys that share a prefix, and a key
    inside another: each is masked whole, in every encoding."""
    redactor = Redactor()
    account = json.dumps({"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\n"
                          + "MIIE" + "Qk9CQk9C" * 400 + "\n-----END PRIVATE KEY-----\n"})  # fmt: skip
    short, longer = "sk-or-v1-" + "ab12" * 10, "sk-or-v1-" + "ab12" * 10 + "cd34" * 4
    for secret in (account, short, longer):
        redactor.register(secret)
    for secret in (account, longer, short):
        for form in encoded_forms(secret):
            text = f"before {form} after"
            assert redactor.redact(text) == f"before {MASK} after", form[:40]
    assert redactor.redact("nothing here: sk-or-v1-ab12") == "nothing here: sk-or-v1-ab12"
