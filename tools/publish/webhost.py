"""One publisher shape for the web hosts: the common deploy flow; only each host's steps differ.

```
steps.ensure_project -> recorded -> env vars (the host's protection) -> an identical live
  earlier deployment kept, else a new one -> recorded -> wait until ready (a failure's
  message scrubbed of every secret) -> public URL -> integration check
```
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Generic, Literal, TypeVar

from pydantic import SecretStr

from tools.artifacts.webapp import ENV_NAMES, AppSpec
from tools.clients.aws_credentials import (
    AwsKeyCredential,
    InvalidAwsCredential,
    parse_aws_credential,
)
from tools.clients.errors import BuildFailed, NotFound
from tools.publish.models import (
    AppCheck,
    DeploymentRecorder,
    NullRecorder,
    ResourceKind,
    WebDeployResult,
    WebHost,
)
from tools.publish.scan import scrub

__all__ = ["AppChecker", "HostSteps", "WebDeploy", "deploy_web_app", "env_for"]

AppChecker = Callable[[str], Awaitable[AppCheck]]
Protection = Literal["encrypted", "secret"]
D = TypeVar("D")


def env_for(
    spec: AppSpec, runpod_key: SecretStr, passcode: SecretStr | None
) -> dict[str, SecretStr]:
    """The function's environment: the endpoint's key, where to call it and, when set, the
    passcode. `runpod_key` is the credential of the endpoint's target (`ENV_NAMES`): the
    RunPod key, the Hugging Face token, the Google service-account JSON or the AWS
    credential's JSON (an empty value: the names alone, as the approval card shows them)."""
    endpoint = spec.endpoint
    if endpoint.target == "sagemaker":
        return _aws_env(spec, runpod_key) | ({"APP_PASSCODE": passcode} if passcode else {})
    key_name, where_name = ENV_NAMES[endpoint.target]
    where = endpoint.endpoint_id if endpoint.target == "runpod" else endpoint.jobs_url
    env = {key_name: runpod_key, where_name: SecretStr(where)}
    if passcode is not None:
        env["APP_PASSCODE"] = passcode
    return env


def _aws_env(spec: AppSpec, credential: SecretStr) -> dict[str, SecretStr]:
    """A SageMaker app's function env: the stored long-term access key, the endpoint's
    URL and region. Raises `InvalidAwsCredential` (before anything is created) for a role
    or temporary keys, which a function could not keep using."""
    keys = ("", "")
    if credential.get_secret_value():
        parsed = parse_aws_credential(credential)
        if not isinstance(parsed, AwsKeyCredential) or parsed.keys.session_token is not None:
            # A scale-to-zero endpoint is called through its inference component, and IAM
            # authorises the call on both resources.
            resources = f"endpoint/{spec.endpoint.endpoint_id}"
            if component := spec.endpoint.inference_component:
                resources += f" and inference-component/{component}"
            raise InvalidAwsCredential(
                "The web app's function signs its SageMaker calls with an AWS access key of its "
                "own, and your AWS credential is a role that only KripTik may assume (or "
                "temporary keys that expire). Create an IAM user whose only policy allows "
                f"sagemaker:InvokeEndpoint on {resources}, then store "
                "its access key pair as your AWS credential, or set SAGEMAKER_ACCESS_KEY_ID and "
                "SAGEMAKER_SECRET_ACCESS_KEY in the host's settings yourself."
            )
        keys = (parsed.keys.access_key_id, parsed.keys.secret_access_key.get_secret_value())
    return {
        "SAGEMAKER_ACCESS_KEY_ID": SecretStr(keys[0]),
        "SAGEMAKER_SECRET_ACCESS_KEY": SecretStr(keys[1]),
        "SAGEMAKER_ENDPOINT_URL": SecretStr(spec.endpoint.jobs_url),
        "SAGEMAKER_REGION": SecretStr(spec.endpoint.region or ""),
    }


class HostSteps(ABC, Generic[D]):
    """What one web host does differently; `D` is its deployment object.

    Attributes:
        host: The host's name in results.
        label: How messages name it ("Vercel").
        project_noun, deployment_noun: How messages name a project and a deployment.
        project_kind, deployment_kind: How the recorder names the project and deployment.
        project_id: Set by `ensure_project`.
    """

    host: WebHost
    label: str
    project_noun: str
    deployment_noun: str
    project_kind: ResourceKind
    deployment_kind: ResourceKind
    project_id: str = ""

    @abstractmethod
    async def ensure_project(self, name: str) -> str | None:
        """Get or create the project; set `project_id`, return its URL for the record."""

    @abstractmethod
    async def set_env(self, env: Mapping[str, SecretStr]) -> Protection:
        """Upsert the function's variables; how the host keeps them."""

    @abstractmethod
    async def get(self, deployment_id: str) -> D:
        """An earlier deployment (raises `NotFound` when it is gone)."""

    @abstractmethod
    def live(self, deployment: D) -> bool:
        """Whether an earlier deployment is worth keeping (not failed)."""

    @abstractmethod
    async def deploy(self) -> D:
        """Upload what the host lacks and start a deployment."""

    @abstractmethod
    def identify(self, deployment: D) -> tuple[str, str | None]:
        """The deployment's id and URL, for the record."""

    @abstractmethod
    async def wait_ready(self, deployment: D) -> D:
        """Poll until ready (`BuildFailed` when it failed)."""

    @abstractmethod
    async def failure_text(self, err: BuildFailed, deployment: D) -> str:
        """The failure's message, with whatever the host adds (a build log)."""

    @abstractmethod
    async def public_url(self, name: str, deployment: D) -> str:
        """The app's public URL."""


class WebDeploy:
    """One deploy's inputs, apart from the host's steps."""

    def __init__(
        self, spec: AppSpec, name: str, digest: str, *, runpod_key: SecretStr,
        passcode: SecretStr | None, secrets: Sequence[SecretStr],
    ) -> None:  # fmt: skip
        self.spec, self.name, self.digest = spec, name, digest
        self.runpod_key, self.passcode, self.secrets = runpod_key, passcode, secrets

    def scrub(self, text: str) -> str:
        # A build log can echo an env var: the message must never carry the key on.
        passcode = [self.passcode] if self.passcode else []
        return scrub(text, [self.runpod_key, *self.secrets, *passcode])


async def _reusable(steps: HostSteps[D], previous: WebDeployResult | None, digest: str) -> D | None:
    if previous is None or previous.host != steps.host or previous.tree_digest != digest:
        return None
    try:
        deployment = await steps.get(previous.deployment_id)
    except NotFound:
        return None
    return deployment if steps.live(deployment) else None


async def deploy_web_app(
    steps: HostSteps[D],
    job: WebDeploy,
    *,
    recorder: DeploymentRecorder | None = None,
    previous: WebDeployResult | None = None,
    check: AppChecker | None = None,
) -> WebDeployResult:
    """Deploy `job` with `steps`: idempotent (project and variables upserted, only what the
    host lacks uploaded, an identical live `previous` deployment kept)."""
    recorder = recorder or NullRecorder()
    await recorder.progress(
        f"Deploying the web app to {steps.label} ({steps.project_noun} {job.name})"
    )
    project_url = await steps.ensure_project(job.name)
    await recorder.record_resource(steps.project_kind, steps.project_id, project_url)
    env = env_for(job.spec, job.runpod_key, job.passcode)
    protection = await steps.set_env(env)
    deployment = await _reusable(steps, previous, job.digest)
    reused = deployment is not None
    if deployment is None:
        deployment = await steps.deploy()
    await recorder.record_resource(steps.deployment_kind, *steps.identify(deployment))
    try:
        deployment = await steps.wait_ready(deployment)
    except BuildFailed as err:
        message = job.scrub(await steps.failure_text(err, deployment))
        raise BuildFailed(message, provider=err.provider, status=err.status) from None
    url = await steps.public_url(job.name, deployment)
    await recorder.progress(f"{steps.label} {steps.deployment_noun} ready at {url}")
    return WebDeployResult(
        host=steps.host, project=job.name, project_id=steps.project_id,
        deployment_id=steps.identify(deployment)[0], url=url, tree_digest=job.digest,
        env_vars=tuple(env), env_protection=protection, reused=reused,
        check=await check(url) if check else None,
    )  # fmt: skip
