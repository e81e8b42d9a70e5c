"""Deploy a generated app to Netlify: site, secret env vars, files and function by digest.

```
render -> scan -> site (get or create) -> env: RUNPOD_API_KEY, RUNPOD_ENDPOINT_ID as secret
  values for the functions -> deploy {files: sha1, functions: {infer: sha256 of its zip}}
  -> upload only what Netlify lists as required -> poll to ready -> URL -> check
```
A plan that refuses secret variables stops the deploy with a message that gives the
options: the approval card promised "kept secret", so the key is never stored as a plain
variable instead.
Netlify's file-digest deploys run no build, so the function goes up as a zip: the
generated `api/infer.js` as `infer.js`, Lambda-compatible (`exports.handler`).
The flow is `tools.publish.webhost`'s; only Netlify's steps are here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import SecretStr

from tools.artifacts.webapp import AppSpec, check_project_name, render_app, tree_digest
from tools.clients.errors import BuildFailed
from tools.clients.netlify import NetlifyClient
from tools.clients.webhost_models import NetlifyDeploy, NetlifySite
from tools.publish.models import DeploymentRecorder, WebDeployResult
from tools.publish.scan import ensure_clean
from tools.publish.webhost import AppChecker, HostSteps, Protection, WebDeploy, deploy_web_app

__all__ = ["NetlifySteps", "deploy_to_netlify"]


class NetlifySteps(HostSteps[NetlifyDeploy]):
    """Netlify's steps of the common flow, for one rendered file tree and its function."""

    host, label = "netlify", "Netlify"
    project_noun, deployment_noun = "site", "deploy"
    project_kind, deployment_kind = "netlify_site", "netlify_deploy"
    site: NetlifySite | None = None

    def __init__(
        self, netlify: NetlifyClient, files: Mapping[str, bytes], functions: Mapping[str, bytes]
    ) -> None:
        self.netlify, self.files, self.functions = netlify, files, functions

    async def ensure_project(self, name: str) -> str | None:
        self.site = await self.netlify.ensure_site(name)
        self.project_id = self.site.id
        return self.site.ssl_url or self.site.url

    async def set_env(self, env: Mapping[str, SecretStr]) -> Protection:
        return await self.netlify.set_env(self.project_id, env)

    async def get(self, deployment_id: str) -> NetlifyDeploy:
        return await self.netlify.get_deploy(self.project_id, deployment_id)

    def live(self, deployment: NetlifyDeploy) -> bool:
        return deployment.state not in ("error", "rejected")

    async def deploy(self) -> NetlifyDeploy:
        return await self.netlify.deploy(self.project_id, self.files, self.functions)

    def identify(self, deployment: NetlifyDeploy) -> tuple[str, str | None]:
        return deployment.id, deployment.deploy_ssl_url

    async def wait_ready(self, deployment: NetlifyDeploy) -> NetlifyDeploy:
        return await self.netlify.wait_ready(self.project_id, deployment.id)

    async def failure_text(self, err: BuildFailed, deployment: NetlifyDeploy) -> str:
        return str(err)

    async def public_url(self, name: str, deployment: NetlifyDeploy) -> str:
        site_url = self.site.ssl_url if self.site else None
        return site_url or deployment.ssl_url or f"https://{name}.netlify.app"


async def deploy_to_netlify(
    spec: AppSpec,
    *,
    netlify: NetlifyClient,
    runpod_key: SecretStr,
    site: str | None = None,
    passcode: SecretStr | None = None,
    secrets: Sequence[SecretStr] = (),
    recorder: DeploymentRecorder | None = None,
    previous: WebDeployResult | None = None,
    check: AppChecker | None = None,
) -> WebDeployResult:
    """Deploy the app generated from `spec` to the Netlify site `site` (`site.netlify.app`).

    Idempotent like `deploy_to_vercel`: the site and variables are upserted, Netlify asks
    only for files it lacks, and an identical `previous` deploy is kept.

    Args:
        spec: The app.
        netlify: A client for the user's Netlify token.
        runpod_key: The user's RunPod key, stored as a secret variable (never a file).
        site: The site name (default `spec.project`).
        passcode: Optional APP_PASSCODE for the app.
        secrets: The user's vault values, for the pre-deploy scan.
        recorder: Gets the site and deploy as soon as they exist.
        previous: This step's result from an earlier run, if any.
        check: Runs the integration check on the app's URL (see `check_app`).

    Raises:
        SecretFound: A file holds a secret (nothing was sent).
        BuildFailed: The deploy ended in error (Netlify's reason in the message).
        ProviderError: Netlify failed (its message says what to do).
    """
    name = check_project_name(site or spec.project)
    app = render_app(spec)
    files, functions = app.netlify_files(), {"infer": app.netlify_function_zip()}
    ensure_clean(files | {"api/infer.js": app.files["api/infer.js"]}, secrets=secrets)
    digest = tree_digest(files | {"functions/infer.zip": functions["infer"]})
    job = WebDeploy(spec, name, digest, runpod_key=runpod_key, passcode=passcode,
                    secrets=secrets)  # fmt: skip
    steps = NetlifySteps(netlify, files, functions)
    return await deploy_web_app(steps, job, recorder=recorder, previous=previous, check=check)
