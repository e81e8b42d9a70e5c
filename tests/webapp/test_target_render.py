"""The generated project for each deploy target: the variables the function reads and
`.env.example` lists, the clients it ships, the endpoint's validation, the host env vars
and local `.env` that publishing writes, and the spec made from a deployment record."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from tests.webapp.conftest import spec_for
from tools.artifacts.client import EndpointInfo, ServingTarget, render_clients
from tools.artifacts.webapp import ENV_NAMES, AppSpec, local_env_text, render_app
from tools.publish.from_deployment import AppUnavailable, spec_from_deployment
from tools.publish.webhost import env_for
from vault.deployments import DeploymentView

HF_URL = "https://abc123.us-east-1.aws.endpoints.huggingface.cloud"
RUN_URL = "https://kt-dep-1-x7k2-uc.a.run.app"
SM_URL = "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/kt-dep-1/invocations"
URLS: dict[str, str | None] = {"runpod": None, "huggingface": HF_URL, "cloudrun": RUN_URL,
                               "sagemaker": SM_URL}  # fmt: skip
_SM = {"target": "sagemaker", "url": SM_URL, "region": "eu-west-1"}
OPTIONAL = {
    "runpod": {"RUNPOD_API_BASE"}, "huggingface": {"WAKE_WAIT_S"}, "cloudrun": set[str](),
    "sagemaker": {"SAGEMAKER_ACCESS_KEY_ID", "SAGEMAKER_SESSION_TOKEN", "SAGEMAKER_REGION",
                  "SAGEMAKER_ROLE_ARN", "SAGEMAKER_EXTERNAL_ID", "SAGEMAKER_STS_URL"},
}  # fmt: skip


def _app(target: ServingTarget, kind: str = "generic") -> AppSpec:
    endpoint = EndpointInfo.model_validate({
        "endpoint_id": "kt-dep-1", "model_id": "org/model", "target": target,
        "url": URLS[target], "openai_compatible": kind == "llm" and target != "sagemaker",
        "region": "eu-west-1" if target == "sagemaker" else None,
    })  # fmt: skip
    return spec_for("generic").model_copy(update={"kind": kind, "endpoint": endpoint})


@pytest.mark.parametrize("target", ["runpod", "huggingface", "cloudrun", "sagemaker"])
def test_env_example_lists_exactly_what_the_target_function_reads(target: ServingTarget) -> None:
    app = render_app(_app(target))
    listed = {
        line.split("=")[0]
        for line in app.files[".env.example"].decode().splitlines()
        if line and not line.startswith("#")
    }
    read = set(re.findall(r"env\.([A-Z_]+)", app.files["api/infer.js"].decode()))
    read |= set(re.findall(r"process\.env\.([A-Z_]+)", app.files["dev-server.mjs"].decode()))
    assert listed == read == {*ENV_NAMES[target], *OPTIONAL[target], "APP_PASSCODE", "PORT", "HOST"}
    readme = app.files["README.md"].decode()
    assert all(f"`{name}`" in readme for name in ENV_NAMES[target])


@pytest.mark.parametrize(
    ("target", "files"),
    [
        ("runpod", {"runpod_client.py", "runpod-client.ts", "runpod-client.mjs"}),
        ("huggingface", {"hf_endpoint_client.py"}),
        ("cloudrun", {"cloudrun_client.py"}),
        ("sagemaker", {"sagemaker_client.py"}),
    ],
)
def test_each_target_ships_its_own_clients(target: ServingTarget, files: set[str]) -> None:
    rendered = render_clients(_app(target).endpoint, example_input={"prompt": "Hi"})
    assert {path.rsplit("/", 1)[1] for path in rendered} == files
    for path, raw in rendered.items():
        if path.endswith(".py"):
            compile(raw, path, "exec")
    if target != "runpod":
        assert str(URLS[target]) in next(iter(rendered.values())).decode()


def test_hf_chat_ships_the_openai_example_on_tgi_route() -> None:
    rendered = render_clients(_app("huggingface", "llm").endpoint)
    example = rendered["clients/python/openai_example.py"].decode()
    assert 'base_url=f"{URL}/v1"' in example and "HF_TOKEN" in example
    assert _app("huggingface", "llm").endpoint.openai_url == f"{HF_URL}/v1"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"target": "cloudrun"}, "needs its url"),
        ({"url": RUN_URL}, "takes no url"),
        ({"target": "cloudrun", "url": RUN_URL, "openai_compatible": True}, "no OpenAI route"),
        ({"target": "huggingface", "url": "javascript:alert(1)"}, "is not an endpoint URL"),
        ({"target": "huggingface", "url": 'https://x.cloud/"><script>'}, "is not an endpoint URL"),
        ({"target": "huggingface", "url": "https://user:pw@x.cloud"}, "is not an endpoint URL"),
        ({"target": "aws"}, "Input should be"),
        ({"target": "sagemaker", "url": SM_URL}, "needs its AWS region"),
        ({"url": RUN_URL, "target": "cloudrun", "region": "us-east-1"}, "only it takes one"),
        ({"target": "sagemaker", "url": SM_URL, "region": "us east"}, "not an AWS region"),
        ({"target": "cloudrun", "url": RUN_URL, "serving": "worker"}, "only for a SageMaker"),
        (
            {"target": "sagemaker", "url": SM_URL, "region": "eu-west-1", "serving": "vllm"},
            "Input should be 'tgi' or 'worker'",
        ),
        (
            {"target": "cloudrun", "url": RUN_URL, "inference_component": "kt-dep-1"},
            "inference_component is only for a SageMaker endpoint",
        ),
        *[
            ({**_SM, "inference_component": bad}, "is not a SageMaker inference component name")
            for bad in ("kt-dep-1-", "-kt", "kt_dep", 'kt"\nx', "k" * 64, "")
        ],
    ],
)
def test_endpoint_target_and_url_are_checked(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        EndpointInfo.model_validate({"endpoint_id": "kt-dep-1", "model_id": "org/m"} | fields)


def test_defaults_keep_existing_callers_on_runpod() -> None:
    endpoint = EndpointInfo(endpoint_id="abc123", model_id="org/m")
    assert (endpoint.target, endpoint.url) == ("runpod", None)
    assert endpoint.jobs_url == "https://api.runpod.ai/v2/abc123"
    trailing = EndpointInfo(
        endpoint_id="kt-dep-1", model_id="org/m", target="cloudrun", url=RUN_URL + "/"
    )
    assert trailing.url == trailing.jobs_url == RUN_URL


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("runpod", {"RUNPOD_API_KEY": "K", "RUNPOD_ENDPOINT_ID": "kt-dep-1"}),
        ("huggingface", {"HF_TOKEN": "K", "HF_ENDPOINT_URL": HF_URL}),
        ("cloudrun", {"GCP_SERVICE_ACCOUNT_JSON": "K", "CLOUD_RUN_URL": RUN_URL}),
    ],
)
def test_host_env_and_local_env_per_target(target: ServingTarget, expected: dict[str, str]) -> None:
    spec = _app(target)
    env = env_for(spec, SecretStr("K"), SecretStr("pass"))
    assert {k: v.get_secret_value() for k, v in env.items()} == expected | {"APP_PASSCODE": "pass"}
    local = local_env_text(render_app(spec), jobs_base_url="http://127.0.0.1:9/v2/")
    key_name, where_name = ENV_NAMES[target]
    assert f"\n{key_name}=\n" in local  # the key stays for the user to fill
    assert f"\n{where_name}={expected[where_name]}\n" in local


def _view(
    plan: dict[str, Any], urls: dict[str, Any], endpoint_id: str | None = "kt-dep-1"
) -> DeploymentView:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return DeploymentView(
        id="d-1", user_id="u", thread_id="t", repo_id="org/tiny-llama", revision="main", kind="vllm",
        state="ready", stage=None, message=None, name="kt-d-1", image=None, image_digest=None,
        registry_auth_id=None, template_id=None, endpoint_id=endpoint_id, gpu_pools=["nvidia-l4"],
        gpu_count=1, workers_min=0, workers_max=1, idle_timeout_s=300, usd_per_second=0.0003,
        cost_usd=0.0, urls=urls, plan=plan, created_at=now, updated_at=now, ready_at=now, ended_at=None,
    )  # fmt: skip


def test_spec_from_a_deployment_record_carries_its_target() -> None:
    hf = spec_from_deployment(_view({"target": "huggingface"}, {"base": HF_URL}))
    assert (hf.endpoint.target, hf.endpoint.url, hf.streams) == ("huggingface", HF_URL, True)
    run = spec_from_deployment(_view({"target": "cloudrun"}, {"base": RUN_URL}))
    assert (run.endpoint.target, run.endpoint.url, run.streams) == ("cloudrun", RUN_URL, False)
    legacy = spec_from_deployment(_view({}, {"console": "https://www.runpod.io/console"}))
    assert (legacy.endpoint.target, legacy.endpoint.url, legacy.streams) == ("runpod", None, True)
    with pytest.raises(AppUnavailable, match="no URL yet"):
        spec_from_deployment(_view({"target": "cloudrun"}, {}))


def test_spec_from_a_sagemaker_record_signs_for_the_plan_s_region() -> None:
    plan = {"target": "sagemaker", "target_gpu": {"region": "eu-west-1", "name": "ml.g5.xlarge"}}
    spec = spec_from_deployment(_view(plan, {"base": SM_URL}))
    endpoint = spec.endpoint
    assert (endpoint.target, endpoint.url, endpoint.region) == ("sagemaker", SM_URL, "eu-west-1")
    assert (spec.kind, spec.streams) == ("llm", False)  # the LLM container, without OpenAI route
    assert '"region": "eu-west-1"' in render_app(spec).files["api/infer.js"].decode()
    with pytest.raises(AppUnavailable, match="records no region"):
        spec_from_deployment(_view({"target": "sagemaker"}, {"base": SM_URL}))


def _sagemaker_view(worker: dict[str, Any], kind: str) -> DeploymentView:
    plan = {"target": "sagemaker", "target_gpu": {"region": "eu-west-1"}, "worker": worker,
            "test_input": {"prompt": "a fox", "num_inference_steps": 4}}  # fmt: skip
    return _view(plan, {"base": SM_URL}).model_copy(update={"kind": kind})


def test_a_sagemaker_record_says_whether_it_runs_our_worker_or_tgi() -> None:
    image = spec_from_deployment(
        _sagemaker_view({"kind": "diffusers", "task": "text-to-image"}, "diffusers")
    )
    assert (image.kind, image.endpoint.serving) == ("image", "worker")
    assert image.example_input == {"prompt": "a fox", "num_inference_steps": 4}
    assert '"serving": "worker"' in render_app(image).files["api/infer.js"].decode()
    client = render_clients(image.endpoint)["clients/python/sagemaker_client.py"].decode()
    assert "async def infer(self, job_input: dict[str, Any]) -> Any:" in client
    # TGI, and every SageMaker record from before the worker ran there (no worker field).
    for view in (_sagemaker_view({"kind": "vllm"}, "vllm"), _sagemaker_view({}, "vllm")):
        tgi = spec_from_deployment(view)
        assert (tgi.kind, tgi.endpoint.serving) == ("llm", "tgi")
        assert '"serving"' not in render_app(tgi).files["api/infer.js"].decode()
        client = render_clients(tgi.endpoint)["clients/python/sagemaker_client.py"].decode()
        assert "async def infer(self, inputs: Any, parameters:" in client
    # A plan that also records the property (transformers: built) reads as our worker.
    stored = _sagemaker_view({"kind": "transformers", "needs_build": True}, "transformers")
    assert spec_from_deployment(stored).endpoint.serving == "worker"
    # `serving` is SageMaker's alone: elsewhere the target says what runs.
    run = spec_from_deployment(_view({"target": "cloudrun", "worker": {"kind": "diffusers"}},
                                     {"base": RUN_URL}))  # fmt: skip
    assert run.endpoint.serving == "tgi"


def test_a_sagemaker_record_that_scales_to_zero_names_its_inference_component() -> None:
    """A plan with no instance always on (workers_min 0) deployed an inference component
    named like the endpoint; a classic endpoint (and every record from before) names none."""
    image = {"kind": "diffusers", "task": "text-to-image"}
    for serving, view in (("tgi", _sagemaker_view({"kind": "vllm"}, "vllm")),
                          ("worker", _sagemaker_view(image, "diffusers"))):  # fmt: skip
        zero = view.model_copy(update={"plan": view.plan | {"workers_min": 0, "workers_max": 2}})
        spec = spec_from_deployment(zero)
        assert (spec.endpoint.serving, spec.endpoint.inference_component) == (serving, "kt-dep-1")
        assert '"component": "kt-dep-1"' in render_app(spec).files["api/infer.js"].decode()
        client = render_clients(spec.endpoint)["clients/python/sagemaker_client.py"].decode()
        assert "DEFAULT_COMPONENT = 'kt-dep-1'" in client
        assert 'request.headers["X-Amzn-SageMaker-Inference-Component"] = self._component' in client
        always_on = view.model_copy(
            update={"plan": view.plan | {"workers_min": 2, "workers_max": 2}}
        )
        for classic in (always_on, view):  # view: a record from before, with no workers_min
            endpoint = spec_from_deployment(classic).endpoint
            assert (endpoint.serving, endpoint.inference_component) == (serving, None)
            app = render_app(spec_from_deployment(classic))
            assert '"component"' not in app.files["api/infer.js"].decode()
            assert (
                "Inference-Component"
                not in app.files["clients/python/sagemaker_client.py"].decode()
            )
            assert "bills\nevery hour until it is torn down" in app.files["README.md"].decode()
    # Only SageMaker has components: another target's plan with workers_min 0 names none.
    run = spec_from_deployment(_view({"target": "cloudrun", "workers_min": 0}, {"base": RUN_URL}))
    assert run.endpoint.inference_component is None


def test_a_scale_to_zero_app_s_readme_says_it_wakes_and_what_the_key_needs() -> None:
    spec = _app("sagemaker")
    fields = spec.endpoint.model_dump() | {"inference_component": "kt-dep-1"}
    endpoint = EndpointInfo.model_validate(fields)
    readme = render_app(spec.model_copy(update={"endpoint": endpoint})).files["README.md"].decode()
    assert (
        "The endpoint scales to zero: the model runs as its inference component\n`kt-dep-1`"
        in readme
    )
    assert '503 `{"code": "waking"}` while the model wakes up from zero' in readme
    assert "arn:aws:sagemaker:eu-west-1:*:inference-component/kt-dep-1" in readme
    assert "SAGEMAKER_COLD_START_S" in readme and "bills\nevery hour" not in readme
