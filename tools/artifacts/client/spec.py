"""What generated code may know about a RunPod endpoint, validated before it reaches a template.

Every value here ends up inside generated Python, TypeScript, JavaScript, HTML, Markdown or
TOML, so each field is either a strict pattern (ids, names) or free text that the
templates escape for their context (titles). A value that fails raises `ValueError` with
a sentence the agent can act on (the tools turn it into `ModelRetry`).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from tools.artifacts._checks import HF_REPO_ID, checked

__all__ = [
    "DEFAULT_JOBS_BASE_URL",
    "EndpointId",
    "EndpointInfo",
    "ModelId",
    "check_endpoint_id",
    "check_model_id",
]

DEFAULT_JOBS_BASE_URL = "https://api.runpod.ai/v2"

# RunPod endpoint ids are short lowercase alphanumerics ("a1b2c3d4e5f6g7").
_ENDPOINT_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,63}")


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


EndpointId = Annotated[str, AfterValidator(check_endpoint_id)]
ModelId = Annotated[str, AfterValidator(check_model_id)]


class EndpointInfo(BaseModel):
    """A deployed RunPod serverless endpoint, as generated clients and apps call it.

    Attributes:
        endpoint_id: The RunPod endpoint id.
        model_id: The Hugging Face model it serves (also the vLLM served model name).
        openai_compatible: True for RunPod's vLLM worker, which also serves
            `/openai/v1` (chat completions with streaming).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_id: EndpointId
    model_id: ModelId
    openai_compatible: bool = False

    @property
    def jobs_url(self) -> str:
        """The endpoint's job API root (`/run`, `/runsync`, `/status/{id}`...)."""
        return f"{DEFAULT_JOBS_BASE_URL}/{self.endpoint_id}"

    @property
    def openai_url(self) -> str | None:
        """The OpenAI-compatible base URL, for vLLM endpoints."""
        return f"{self.jobs_url}/openai/v1" if self.openai_compatible else None
