"""A deployed Hugging Face Inference Endpoint and a deployed private Cloud Run service on the
simulator fakes, as the deploy targets leave them, for the generated app and clients to call;
and the app specs for them."""

from __future__ import annotations

from tools.artifacts.client import EndpointInfo
from tools.artifacts.webapp import AppKind, AppSpec
from tools.simulator.all import FakeStack
from tools.simulator.cloudrun import FakeService
from tools.simulator.gcp_oauth import ALL_PERMISSIONS
from tools.simulator.hf_endpoints import FakeEndpoint
from tools.simulator.huggingface import HfUser

__all__ = [
    "HF_INFER",
    "HF_NAME",
    "HF_TOKEN",
    "RUN_INVOKE",
    "SERVICE_ID",
    "TOKEN",
    "cloud_run_service",
    "hf_endpoint",
    "service_account",
    "target_spec",
]

HF_TOKEN = "hf_PLANTEDwebappPLANTEDwebapp0123456789ab"
HF_NAME = "kt-webapp-hf"
HF_INFER = "POST /inference/{namespace}/{name}"
SERVICE_ID = "kt-webapp-cr"
RUN_INVOKE = "POST /_run/{uid}/{rest}"
TOKEN = "POST /token"
MODEL = "kriptik-test/tiny-llama"


def hf_endpoint(
    stack: FakeStack, *, state: str = "scaledToZero", task: str = "text-generation",
    wake_requests: int = 2,
) -> str:  # fmt: skip
    """An endpoint of user "ada" (token `HF_TOKEN`) in `state`; returns its URL. A scaled-to-
    zero one answers 503 to `wake_requests` calls, then serves."""
    stack.huggingface.add_token(HF_TOKEN, HfUser(name="ada", orgs=[]))
    url = f"{stack.url('hf_endpoints')}/inference/ada/{HF_NAME}"
    raw = {
        "name": HF_NAME, "model": {"repository": MODEL, "task": task},
        "compute": {"scaling": {"maxReplica": 1}},
        "status": {"state": state, "message": state, "url": url, "readyReplica": 0},
    }  # fmt: skip
    fake = stack.hf_endpoints
    fake.endpoints[("ada", HF_NAME)] = FakeEndpoint("ada", raw, fake.hardware[1])
    fake.knobs.wake_requests = wake_requests
    return url


def service_account(
    stack: FakeStack, *, permissions: frozenset[str] = ALL_PERMISSIONS, name: str = "invoker"
) -> str:
    """The JSON key of a fresh service account holding `permissions`, whose token_uri is the
    token fake (`name` tells several accounts apart)."""
    return stack.google_oauth.state.new_service_account(
        name=name, permissions=permissions, token_uri=stack.url("google_oauth") + "/token"
    )


def cloud_run_service(
    stack: FakeStack, *, permissions: frozenset[str] = ALL_PERMISSIONS
) -> tuple[str, str]:
    """A ready private service, and the JSON key of a fresh service account holding
    `permissions`: (service URL, key JSON)."""
    key = service_account(stack, permissions=permissions)
    image = "us-central1-docker.pkg.dev/kriptik-demo/kriptik/worker:1"
    body = {"template": {"containers": [{"image": image}]}}
    service = FakeService(body, "kriptik-demo", "us-central1", SERVICE_ID)
    service.state = "CONDITION_SUCCEEDED"
    service.uri = f"{stack.url('cloudrun')}/_run/{service.uid}"
    stack.cloudrun.services[("kriptik-demo", "us-central1", SERVICE_ID)] = service
    return service.uri, key


def target_spec(
    kind: AppKind, target: str, url: str, *, project: str, chat: bool = False
) -> AppSpec:
    """An app of `kind` for the endpoint at `url` on `target`."""
    endpoint = EndpointInfo.model_validate({
        "endpoint_id": HF_NAME if target == "huggingface" else SERVICE_ID, "model_id": MODEL,
        "target": target, "url": url, "openai_compatible": chat,
    })  # fmt: skip
    return AppSpec(kind=kind, project=project, title=f"{target} app", endpoint=endpoint)
