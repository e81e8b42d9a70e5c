"""Deploy a generated app to Vercel: project, encrypted env vars, files by digest, READY.

```
render -> scan -> project (get or create) -> env: RUNPOD_API_KEY, RUNPOD_ENDPOINT_ID
  (encrypted, production + preview; set before the deploy, which reads them at build)
  -> deployment: files by SHA-1, only what Vercel lacks uploaded (missing_files round trip)
  -> poll to READY (ERROR: the build log's last lines) -> URL -> integration check
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import quote

from pydantic import SecretStr

from tools.artifacts.webapp import AppSpec, check_project_name, render_app, tree_digest
from tools.clients.errors import BuildFailed, NotFound, ProviderError
from tools.clients.vercel import VercelClient, VercelDeployment
from tools.publish._json import as_dict, as_list
from tools.publish.models import (
    AppCheck,
    DeploymentRecorder,
    NullRecorder,
    WebDeployResult,
)
from tools.publish.scan import ensure_clean, scrub

__all__ = ["AppChecker", "VercelPublisher", "deploy_to_vercel", "env_for"]

AppChecker = Callable[[str], Awaitable[AppCheck]]
_LOG_LINES = 15


class VercelPublisher(VercelClient):
    """`VercelClient` plus the build log (for failures) and the deployment's public URL."""

    async def build_log(self, deployment_id: str) -> str:
        """The last lines of the deployment's build output ("" when Vercel has none)."""
        path = f"/v3/deployments/{quote(deployment_id, safe='')}/events"
        try:
            data = await self._api.call("GET", path, params=self._team(), what="the build log")
        except ProviderError:
            return ""
        lines: list[str] = []
        for event in map(as_dict, as_list(data)):
            # Newer events carry the line in `payload.text`, older ones in `text`.
            text = as_dict(event.get("payload")).get("text", event.get("text"))
            if isinstance(text, str) and text.strip():
                lines.append(text.rstrip())
        return "\n".join(lines[-_LOG_LINES:])

    async def public_url(self, deployment: VercelDeployment) -> str:
        """The production alias when Vercel assigned one, else the deployment URL.

        Deployment URLs sit behind Vercel's deployment protection by default; the
        production alias (`project.vercel.app`) is public.
        """
        path = f"/v13/deployments/{quote(deployment.id, safe='')}"
        data = await self._api.call("GET", path, params=self._team(), what="the deployment")
        aliases = as_list(as_dict(data).get("alias"))
        if aliases and isinstance(aliases[0], str):
            return f"https://{aliases[0]}"
        return deployment.https_url

    async def delete_project(self, project: str) -> bool:
        """Delete a project (id or name) with all its deployments and env vars; False when
        it was already gone (so teardown may run again)."""
        path = f"/v9/projects/{quote(project, safe='')}"
        try:
            await self._api.call("DELETE", path, params=self._team(), what=f"the project {project}")
        except NotFound:
            return False
        return True


def env_for(
    spec: AppSpec, runpod_key: SecretStr, passcode: SecretStr | None
) -> dict[str, SecretStr]:
    """The function's environment: the key, the endpoint and, when set, the passcode."""
    env = {"RUNPOD_API_KEY": runpod_key, "RUNPOD_ENDPOINT_ID": SecretStr(spec.endpoint.endpoint_id)}
    if passcode is not None:
        env["APP_PASSCODE"] = passcode
    return env


async def _reusable(
    vercel: VercelClient, previous: WebDeployResult | None, digest: str
) -> VercelDeployment | None:
    if previous is None or previous.host != "vercel" or previous.tree_digest != digest:
        return None
    try:
        dep = await vercel.get_deployment(previous.deployment_id)
    except NotFound:
        return None
    return dep if dep.ready_state in ("QUEUED", "INITIALIZING", "BUILDING", "READY") else None


async def deploy_to_vercel(
    spec: AppSpec,
    *,
    vercel: VercelPublisher,
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
    recorder = recorder or NullRecorder()
    name = check_project_name(project or spec.project)
    files = render_app(spec).vercel_files()
    ensure_clean(files, secrets=secrets)
    digest = tree_digest(files)
    await recorder.progress(f"Deploying the web app to Vercel (project {name})")
    proj = await vercel.ensure_project(name)
    await recorder.record_resource("vercel_project", proj.id, None)
    env = env_for(spec, runpod_key, passcode)
    await vercel.set_env(proj.id, env)
    dep = await _reusable(vercel, previous, digest)
    reused = dep is not None
    if dep is None:
        dep = await vercel.deploy(name, files)
    await recorder.record_resource("vercel_deployment", dep.id, dep.https_url)
    try:
        dep = await vercel.wait_ready(dep.id)
    except BuildFailed as err:
        log = await vercel.build_log(dep.id)
        text = f"{err}\n\nEnd of the build log:\n{log}" if log else str(err)
        # A build log can echo an env var: the message must never carry the key on.
        message = scrub(text, [runpod_key, *secrets, *([passcode] if passcode else [])])
        raise BuildFailed(message, provider=err.provider, status=err.status) from None
    url = await vercel.public_url(dep)
    await recorder.progress(f"Vercel deployment ready at {url}")
    return WebDeployResult(
        host="vercel", project=name, project_id=proj.id, deployment_id=dep.id, url=url,
        tree_digest=digest, env_vars=tuple(env), env_protection="encrypted", reused=reused,
        check=await check(url) if check else None,
    )  # fmt: skip
