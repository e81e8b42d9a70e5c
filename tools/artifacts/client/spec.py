"""What generated code may know about a deployed endpoint (RunPod, a Hugging Face Inference
Endpoint, a Cloud Run service or a SageMaker endpoint), validated before it reaches a template.

Every value here ends up inside generated Python, TypeScript, JavaScript, HTML, Markdown or
TOML, so each field is either a strict pattern (ids, names) or free text that the
templates escape for their context (titles). A value that fails raises `ValueError` with
a sentence the agent can act on (the tools turn it into `ModelRetry`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from tools.artifacts._checks import HF_REPO_ID, checked

__all__ = [
    "DEFAULT_JOBS_BASE_URL",
    "EndpointId",
    "EndpointInfo",
    "ModelId",
    "SageMakerServing",
    "ServingTarget",
    "check_endpoint_id",
    "check_inference_component",
    "check_model_id",
    "check_region",
    "check_service_url",
]

DEFAULT_JOBS_BASE_URL = "https://api.runpod.ai/v2"

# Where a deployment serves (the deployment plan's `target`).
ServingTarget = Literal["runpod", "huggingface", "cloudrun", "sagemaker"]
# What a SageMaker endpoint runs: Hugging Face's LLM container (TGI, `{"inputs",
# "parameters"}` or its Messages API) or KripTik's own worker image (the job input object
# itself, as RunPod's `input` and Cloud Run's `/runsync` take it).
SageMakerServing = Literal["tgi", "worker"]

# RunPod endpoint ids are short lowercase alphanumerics ("a1b2c3d4e5f6g7"); Hugging Face
# endpoint names, Cloud Run service ids and KripTik's SageMaker endpoint names fit the same
# pattern.
_ENDPOINT_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,63}")
# An endpoint's or service's base URL: scheme, host, port and a plain path; no user info,
# query, fragment or quotes, so it reads the same in every generated file.
# An AWS region ("us-east-1", "ap-southeast-2"): SigV4 signs with it.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
# A SageMaker inference component's name (botocore's InferenceComponentName: up to 63
# letters, digits or "-", a letter or digit at each end); it travels in an HTTP header.
_COMPONENT = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?")
_SERVICE_URL = re.compile(r"https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]{0,200})?")


def check_endpoint_id(value: str) -> str:
    """`value` if it is a RunPod endpoint id, else `ValueError`."""
    return checked(
        value,
        _ENDPOINT_ID,
        "is not a RunPod endpoint id (3-64 lowercase letters, digits or '-'); "
        "use the id that create_runpod_endpoint returned",
    )


def check_model_id(value: str) -> str:
    """`value` if it is a Hugging Face repo id ("owner/name"), else `ValueError`."""
    return checked(
        value,
        HF_REPO_ID,
        "is not a Hugging Face model id; write it as owner/name, e.g. Qwen/Qwen2.5-0.5B-Instruct",
        refused=".." in value,
    )


def check_service_url(value: str) -> str:
    """`value` without a trailing "/" if it is a plain http(s) base URL, else `ValueError`."""
    return checked(
        value.rstrip("/"),
        _SERVICE_URL,
        "is not an endpoint URL; use the https URL the deployment reported "
        "(e.g. https://my-service-abc123-uc.a.run.app)",
    )


def check_region(value: str) -> str:
    """`value` if it is an AWS region name, else `ValueError`."""
    return checked(
        value, _REGION, "is not an AWS region; use the endpoint's region (e.g. us-east-1)"
    )


def check_inference_component(value: str) -> str:
    """`value` if it is a SageMaker inference component name, else `ValueError`."""
    return checked(
        value,
        _COMPONENT,
        "is not a SageMaker inference component name (1-63 letters, digits or '-', a "
        "letter or digit at each end); use the deployment's endpoint name",
    )


EndpointId = Annotated[str, AfterValidator(check_endpoint_id)]
ModelId = Annotated[str, AfterValidator(check_model_id)]
ServiceUrl = Annotated[str, AfterValidator(check_service_url)]
Region = Annotated[str, AfterValidator(check_region)]
ComponentName = Annotated[str, AfterValidator(check_inference_component)]


class EndpointInfo(BaseModel):
    """A deployed endpoint, as generated clients and apps call it.

    Attributes:
        endpoint_id: The RunPod endpoint id, Hugging Face endpoint name, Cloud Run
            service id or SageMaker endpoint name (the deployment record's `endpoint_id`).
        model_id: The Hugging Face model it serves (also the vLLM served model name).
        openai_compatible: True for RunPod's vLLM worker, which also serves
            `/openai/v1`, and for a Hugging Face text-generation-inference endpoint,
            which serves `/v1` (chat completions with streaming). Never on Cloud Run or
            SageMaker.
        target: Where it runs: RunPod's job API (`Authorization: Bearer <RunPod key>`),
            a Hugging Face Inference Endpoint (`POST {url}`, `{"inputs", "parameters"}`,
            a Hugging Face token), or a private Cloud Run service running our worker
            (`POST {url}/runsync`, a Google ID token minted for `url`), or a SageMaker
            real-time endpoint (`POST {url}`, the `.../endpoints/<name>/invocations` URL,
            `{"inputs", "parameters"}` for TGI or the job input itself for our worker,
            signed with SigV4 for service `sagemaker`).
        url: The endpoint's or service's base URL (the record's `urls["base"]`); required
            for every target but runpod (its URL comes from the id).
        region: The AWS region a SageMaker endpoint is in (what SigV4 signs with);
            required for sagemaker, none elsewhere.
        serving: What a SageMaker endpoint runs: "tgi" (Hugging Face's LLM container; the
            default, and what every endpoint recorded before this field ran) or "worker"
            (KripTik's worker image, the plan's `worker.needs_build`). Only for sagemaker.
        inference_component: The inference component that runs the model on a SageMaker
            endpoint that scales to zero (KripTik names it like the endpoint): every
            InvokeEndpoint names it (`X-Amzn-SageMaker-Inference-Component`), and while it
            has no copy running SageMaker answers "no capacity" until one has started
            (minutes). None for a classic endpoint, and for every other target.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_id: EndpointId
    model_id: ModelId
    openai_compatible: bool = False
    target: ServingTarget = "runpod"
    url: ServiceUrl | None = None
    region: Region | None = None
    serving: SageMakerServing = "tgi"
    inference_component: ComponentName | None = None

    @model_validator(mode="after")
    def _url_matches_target(self) -> Self:
        if self.target == "runpod" and self.url is not None:
            raise ValueError("a RunPod endpoint takes no url: its job API comes from its id")
        if self.target != "runpod" and self.url is None:
            raise ValueError(f"a {self.target} endpoint needs its url (the record's urls.base)")
        if self.target == "cloudrun" and self.openai_compatible:
            raise ValueError("a Cloud Run service runs our worker, which has no OpenAI route")
        if self.target == "sagemaker" and self.openai_compatible:
            raise ValueError("a SageMaker endpoint is called by InvokeEndpoint: no OpenAI route")
        if (self.target == "sagemaker") != (self.region is not None):
            raise ValueError("a SageMaker endpoint needs its AWS region, and only it takes one")
        if self.serving == "worker" and self.target != "sagemaker":
            raise ValueError(
                "serving='worker' is only for a SageMaker endpoint; on the other targets "
                "the target itself says what runs"
            )
        if self.inference_component is not None and self.target != "sagemaker":
            raise ValueError("inference_component is only for a SageMaker endpoint")
        return self

    @property
    def jobs_url(self) -> str:
        """Where requests go: RunPod's job API root (`/run`, `/runsync`, `/status/{id}`...),
        the Hugging Face endpoint's URL, or the Cloud Run service's URL (`/runsync`)."""
        if self.url is not None:
            return self.url
        return f"{DEFAULT_JOBS_BASE_URL}/{self.endpoint_id}"

    @property
    def openai_url(self) -> str | None:
        """The OpenAI-compatible base URL, for vLLM and text-generation-inference endpoints."""
        if not self.openai_compatible:
            return None
        return (
            f"{self.jobs_url}/v1" if self.target == "huggingface" else f"{self.jobs_url}/openai/v1"
        )
