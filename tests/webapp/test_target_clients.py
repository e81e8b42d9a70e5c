"""The generated Python clients for a Hugging Face Inference Endpoint and a private Cloud Run
service, imported from the rendered files and run against the simulator fakes: the HF
client waits out the scale-from-zero 503s; the Cloud Run client mints the service's ID
token from a service-account key (the service refuses a call without one, or with one
minted for another audience). Errors and reprs never hold the token or the key."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.webapp.target_fakes import (
    HF_INFER,
    HF_TOKEN,
    RUN_INVOKE,
    TOKEN,
    cloud_run_service,
    hf_endpoint,
    service_account,
    target_spec,
)
from tools.artifacts.client import render_clients
from tools.simulator.all import FakeStack
from tools.simulator.gcp_oauth import ALL_PERMISSIONS


def _load(stack: FakeStack, tmp_path: Path, target: str, url: str, file: str) -> ModuleType:
    """The client module rendered for the endpoint at `url`, imported from its file."""
    endpoint = target_spec("generic", target, url, project="clients").endpoint
    for path, raw in render_clients(endpoint, example_input={"prompt": "Hi"}).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(raw)
    name = f"generated_{file}_{tmp_path.name}"
    spec = importlib.util.spec_from_file_location(name, tmp_path / "clients/python" / f"{file}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules.
    spec.loader.exec_module(module)
    return module


async def test_hf_client_waits_while_the_endpoint_wakes(stack: FakeStack, tmp_path: Path) -> None:
    url = hf_endpoint(stack, wake_requests=2)
    module = _load(stack, tmp_path, "huggingface", url, "hf_endpoint_client")
    async with httpx.AsyncClient(trust_env=False) as http:
        client = module.HfEndpointClient(token=HF_TOKEN, backoff_s=0.01, http=http)
        assert HF_TOKEN not in repr(client) and url in repr(client)  # the rendered default URL
        answer = await client.infer("Hello", {"max_new_tokens": 4})
        impatient = module.HfEndpointClient(token=HF_TOKEN, max_wait_s=0, http=http)
        stack.hf_endpoints.endpoints[("ada", "kt-webapp-hf")].raw["status"]["state"] = "paused"
        with pytest.raises(module.HfEndpointError, match="still waking up") as waking:
            await impatient.infer("Hello")
        denied = module.HfEndpointClient(token="hf_" + "W" * 36, http=http)
        with pytest.raises(module.HfEndpointError, match=r"rejected the token \(401\)") as refused:
            await denied.infer("Hello")
    assert answer == [{"generated_text": "Hello and so on."}]
    assert [c.status for c in stack.hf_endpoints.calls_to(HF_INFER)] == [503, 503, 200, 503, 401]
    assert stack.hf_endpoints.calls_to(HF_INFER)[2].json() == {
        "inputs": "Hello", "parameters": {"max_new_tokens": 4}}  # fmt: skip
    assert waking.value.status == 503 and HF_TOKEN not in str(refused.value)


async def test_cloud_run_client_mints_and_reuses_an_id_token(
    stack: FakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key = cloud_run_service(stack)
    module = _load(stack, tmp_path, "cloudrun", url, "cloudrun_client")
    monkeypatch.setenv("GCP_SERVICE_ACCOUNT_JSON", base64.b64encode(key.encode()).decode())
    async with httpx.AsyncClient(trust_env=False) as http:
        client = module.CloudRunClient(http=http)
        first = await client.runsync({"prompt": "one"})
        second = await client.runsync({"prompt": "two"})
    assert (first.status, first.output) == (
        "COMPLETED",
        {"echo": {"prompt": "one"}, "path": "/runsync"},
    )
    assert second.output["echo"] == {"prompt": "two"}
    assert len(stack.google_oauth.calls_to(TOKEN)) == 1  # cached until shortly before expiry
    token = stack.cloudrun.calls_to(RUN_INVOKE)[0].headers["authorization"].removeprefix("Bearer ")
    assert stack.google_oauth.state.id_tokens[token].audience == url
    assert key not in repr(client) and token not in repr(client)


async def test_the_service_refuses_absent_foreign_and_unauthorised_tokens(
    stack: FakeStack, tmp_path: Path
) -> None:
    url, key = cloud_run_service(stack)
    module = _load(stack, tmp_path, "cloudrun", url, "cloudrun_client")
    weak_key = service_account(
        stack, permissions=ALL_PERMISSIONS - {"run.routes.invoke"}, name="weak"
    )
    async with httpx.AsyncClient(trust_env=False) as http:
        absent = await http.post(f"{url}/runsync", json={"input": {}})
        # An ID token minted for another audience (the token endpoint's own URL).
        foreign = module.CloudRunClient(stack.url("google_oauth"), service_account=key, http=http)
        foreign_token = await foreign._id_token()  # pyright: ignore[reportPrivateUsage]
        wrong_audience = await http.post(
            f"{url}/runsync",
            json={"input": {}},
            headers={"Authorization": f"Bearer {foreign_token}"},
        )
        weak = module.CloudRunClient(service_account=weak_key, http=http)
        with pytest.raises(module.CloudRunError, match=r"roles/run\.invoker") as forbidden:
            await weak.runsync({"prompt": "x"})
    assert (absent.status_code, wrong_audience.status_code) == (401, 401)
    assert forbidden.value.status == 403 and weak_key not in str(forbidden.value)


async def test_cloud_run_client_errors_say_what_to_do(stack: FakeStack, tmp_path: Path) -> None:
    url, key = cloud_run_service(stack)
    module = _load(stack, tmp_path, "cloudrun", url, "cloudrun_client")
    with pytest.raises(module.CloudRunError, match="GCP_SERVICE_ACCOUNT_JSON"):
        module.CloudRunClient(service_account='{"type": "service_account"}')
    stack.google_oauth.state.revoke(json.loads(key)["client_email"])
    async with httpx.AsyncClient(trust_env=False) as http:
        client: Any = module.CloudRunClient(service_account=key, http=http)
        with pytest.raises(
            module.CloudRunError, match=r"refused the service-account key \(400\)"
        ) as caught:
            await client.runsync({})
    assert json.loads(key)["private_key"][40:100] not in str(caught.value)
