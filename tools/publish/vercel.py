"""Deploy a generated app to Vercel: project, encrypted env vars, files by digest, READY.

```
render -> scan -> project (get or create) -> env: RUNPOD_API_KEY, RUNPOD_ENDPOINT_ID
  (encrypted, production + preview; set before the deploy, which reads them at build)
  -> deployment: files by SHA-1, only what Vercel lacks uploaded (missing_files round trip)
  -> poll to READY (ERROR: the build log's last lines) -> URL -> integration check
```
The flow is `tools.publish.webhost`'s; only Vercel's steps are here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import SecretStr

from tools.artifacts.webapp import AppSpec, check_project_name, render_app, tree_digest
from tools.clients.errors import BuildFailed
from tools.clients.vercel import VercelClient, VercelDeployment
from tools.publish.models import DeploymentRecorder, WebDeployResult
from tools.publish.scan import ensure_clean
from tools.publish.webhost import (
    AppChecker,
    HostSteps,
    Protection,
    WebDeploy,
    deploy_web_app,
    env_for,
)

__all__ = ["AppChecker", "VercelSteps", "deploy_to_vercel", "env_for"]


class VercelSteps(HostSteps[VercelDeployment]):
    """Vercel's steps of the common flow, for one rendered file tree."""

    host, label = "vercel", "Vercel"
    project_noun, deployment_noun = "project", "deployment"
    project_kind, deployment_kind = "vercel_project", "vercel_deployment"

    def __init__(self, vercel: VercelClient, name: str, files: Mapping[str, bytes]) -> None:
        self.vercel, self.name, self.files = vercel, name, files

    async def ensure_project(self, name: str) -> str | None:
        self.project_id = (await self.vercel.ensure_project(name)).id
        return None

    async def set_env(self, env: Mapping[str, SecretStr]) -> Protection:
        await self.vercel.set_env(self.project_id, env)
        return "encrypted"

    async def get(self, deployment_id: str) -> VercelDeployment:
        return await self.vercel.get_deployment(deployment_id)

    def live(self, deployment: VercelDeployment) -> bool:
        return deployment.ready_state in ("QUEUED", "INITIALIZING", "BUILDING", "READY")

    async def deploy(self) -> VercelDeployment:
        return await self.vercel.deploy(self.name, self.files)

    def identify(self, deployment: VercelDeployment) -> tuple[str, str | None]:
        return deployment.id, deployment.https_url

    async def wait_ready(self, deployment: VercelDeployment) -> VercelDeployment:
        return await self.vercel.wait_ready(deployment.id)

    async def failure_text(self, err: BuildFailed, deployment: VercelDeployment) -> str:
        log = await self.vercel.build_log(deployment.id)
        return f"{err}\n\nEnd of the build log:\n{log}" if log else str(err)

    async def public_url(self, name: str, deployment: VercelDeployment) -> str:
        return await self.vercel.public_url(deployment)


async def deploy_to_vercel(
    spec: AppSpec,
    *,
    vercel: VercelClient,
    runpod_key: SecretStr,
    project: str | None = None,
    passcode: SecretStr | None = None,
    secrets: Sequence[SecretStr] = (),
    recorder: DeploymentRecorder | None = None,
    previous: WebDeployResult | None = None,
    check: AppChecker | None = None,
) -> WebDeployResult:
    """Deploy the app generated from `spec` as the Vercel project `project`.

    Idempotent: the project and env vars are upserted, files Vercel already has are not
    uploaded again, and with `previous` (this step's earlier result) an identical live
    deployment is kept rather than redeployed.

    Args:
        spec: The app.
        vercel: A client for the user's Vercel token.
        runpod_key: The user's RunPod key, stored as an encrypted env var (never a file).
        project: The project name (default `spec.project`).
        passcode: Optional APP_PASSCODE for the app.
        secrets: The user's vault values, for the pre-deploy scan.
        recorder: Gets the project and deployment as soon as they exist.
        previous: This step's result from an earlier run, if any.
        check: Runs the integration check on the app's URL (see `check_app`).

    Raises:
        SecretFound: A file holds a secret (nothing was sent).
        BuildFailed: The deployment ended in ERROR; the message has the build log's end.
        ProviderError: Vercel failed (its message says what to do).
    """
    name = check_project_name(project or spec.project)
    files = render_app(spec).vercel_files()
    ensure_clean(files, secrets=secrets)
    job = WebDeploy(spec, name, tree_digest(files), runpod_key=runpod_key, passcode=passcode,
                    secrets=secrets)  # fmt: skip
    steps = VercelSteps(vercel, name, files)
    return await deploy_web_app(steps, job, recorder=recorder, previous=previous, check=check)
