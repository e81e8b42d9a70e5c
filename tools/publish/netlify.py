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
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

from pydantic import SecretStr

from tools.artifacts.webapp import AppSpec, check_project_name, render_app, tree_digest
from tools.clients.errors import BuildFailed, InvalidRequest, NotFound, ProviderPermissionError
from tools.clients.netlify import NetlifyClient
from tools.clients.webhost_models import NetlifyDeploy
from tools.publish._json import as_dict, as_list
from tools.publish.models import DeploymentRecorder, NullRecorder, WebDeployResult
from tools.publish.scan import ensure_clean, scrub
from tools.publish.vercel import AppChecker, env_for

__all__ = ["NetlifyPublisher", "deploy_to_netlify"]

_CONTEXTS = ("production", "deploy-preview", "branch-deploy")


def _seg(value: str) -> str:
    return quote(value, safe="")


class NetlifyPublisher(NetlifyClient):
    """`NetlifyClient` plus environment variables and deploys that carry functions."""

    async def delete_site(self, site_id: str) -> bool:
        """Delete a site with all its deploys; False when it was already gone."""
        return await self._delete(f"/sites/{_seg(site_id)}", f"site {site_id}")

    async def account_of(self, site_id: str) -> str:
        """The account (slug, else id) that owns the site: env vars live there."""
        data = await self._api.call("GET", f"/sites/{_seg(site_id)}", what=f"site {site_id}")
        site = as_dict(data)
        return str(site.get("account_slug") or site.get("account_id") or "")

    async def set_env(self, site_id: str, env: Mapping[str, SecretStr]) -> Literal["secret"]:
        """Create or update site variables for the functions, each as a secret.

        Raises:
            InvalidRequest, ProviderPermissionError: Netlify refused a secret variable
                (secret values need a plan that has them); the message gives the
                options. No variable is ever stored as a plain one instead.
        """
        account = _seg(await self.account_of(site_id))
        for key, value in env.items():
            try:
                await self._put_var(account, site_id, key, value)
            except (InvalidRequest, ProviderPermissionError) as err:
                raise type(err)(
                    _secret_refused(key, err), provider=err.provider, status=err.status,
                    request_id=err.request_id,
                ) from None  # fmt: skip
        return "secret"

    async def _put_var(self, account: str, site_id: str, key: str, value: SecretStr) -> None:
        raw = value.get_secret_value()
        values = [{"value": raw, "context": c} for c in _CONTEXTS]
        body: dict[str, Any] = {
            "key": key,
            "scopes": ["functions"],
            "is_secret": True,
            "values": values,
        }
        params, what = {"site_id": site_id}, f"the variable {key}"
        var = f"/accounts/{account}/env/{_seg(key)}"
        try:
            await self._api.call("GET", var, params=params, what=what)
        except NotFound:
            await self._api.call("POST", f"/accounts/{account}/env", json=[body], params=params,
                                 idempotent=True, what=what)  # fmt: skip
            return
        await self._api.call("PUT", var, json=body, params=params, what=what)

    async def deploy_with_functions(
        self, site_id: str, files: Mapping[str, bytes], functions: Mapping[str, bytes]
    ) -> NetlifyDeploy:
        """Deploy `files` and zipped `functions` (name -> zip); uploads only what is required."""
        digests = {"/" + p.lstrip("/"): _sha1(raw) for p, raw in files.items()}
        fn_digests = {name: hashlib.sha256(raw).hexdigest() for name, raw in functions.items()}
        body = {"files": digests, "functions": fn_digests, "draft": False}
        what = f"a deploy of site {site_id}"
        data = await self._api.call("POST", f"/sites/{_seg(site_id)}/deploys", json=body, what=what)
        deploy = self._api.model(NetlifyDeploy, data)
        required = set(deploy.required)
        for path, raw in sorted(files.items()):
            if (sha := _sha1(raw)) in required:
                url = f"/deploys/{_seg(deploy.id)}/files/{quote(path.lstrip('/'), safe='/')}"
                await self._upload(url, raw, f"file {path}")
                required.discard(sha)
        wanted = {str(sha) for sha in as_list(as_dict(data).get("required_functions"))}
        for name, raw in sorted(functions.items()):
            if fn_digests[name] in wanted:
                url = f"/deploys/{_seg(deploy.id)}/functions/{_seg(name)}"
                await self._upload(url, raw, f"function {name}", params={"runtime": "js"})
        return deploy

    async def _upload(
        self, url: str, raw: bytes, what: str, *, params: dict[str, str] | None = None
    ) -> None:
        headers = {"Content-Type": "application/octet-stream"}
        await self._api.call("PUT", url, content=raw, headers=headers, params=params, what=what)


def _secret_refused(key: str, err: InvalidRequest | ProviderPermissionError) -> str:
    return (
        f"Netlify would not store {key} as a secret variable ({err.message}), so nothing was "
        "deployed and the key was not stored as a plain variable. Options: deploy to Vercel "
        "instead (its variables are always encrypted), or move the Netlify team to a plan "
        "with secret environment variables (Pro or above) and deploy again. The site that "
        "was created stays empty; tearing the deployment down removes it."
    )


def _sha1(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()  # noqa: S324 (Netlify's file digest is SHA-1)


async def _reusable(
    netlify: NetlifyClient, site_id: str, previous: WebDeployResult | None, digest: str
) -> NetlifyDeploy | None:
    if previous is None or previous.host != "netlify" or previous.tree_digest != digest:
        return None
    try:
        deploy = await netlify.get_deploy(site_id, previous.deployment_id)
    except NotFound:
        return None
    return None if deploy.state in ("error", "rejected") else deploy


async def deploy_to_netlify(
    spec: AppSpec,
    *,
    netlify: NetlifyPublisher,
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
    recorder = recorder or NullRecorder()
    name = check_project_name(site or spec.project)
    app = render_app(spec)
    files, functions = app.netlify_files(), {"infer": app.netlify_function_zip()}
    ensure_clean(files | {"api/infer.js": app.files["api/infer.js"]}, secrets=secrets)
    digest = tree_digest(files | {"functions/infer.zip": functions["infer"]})
    await recorder.progress(f"Deploying the web app to Netlify (site {name})")
    found = await netlify.ensure_site(name)
    await recorder.record_resource("netlify_site", found.id, found.ssl_url or found.url)
    env = env_for(spec, runpod_key, passcode)
    protection = await netlify.set_env(found.id, env)
    deploy = await _reusable(netlify, found.id, previous, digest)
    reused = deploy is not None
    if deploy is None:
        deploy = await netlify.deploy_with_functions(found.id, files, functions)
    await recorder.record_resource("netlify_deploy", deploy.id, deploy.deploy_ssl_url)
    try:
        deploy = await netlify.wait_ready(found.id, deploy.id)
    except BuildFailed as err:
        message = scrub(str(err), [runpod_key, *secrets, *([passcode] if passcode else [])])
        raise BuildFailed(message, provider=err.provider, status=err.status) from None
    url = found.ssl_url or deploy.ssl_url or f"https://{name}.netlify.app"
    await recorder.progress(f"Netlify deploy ready at {url}")
    return WebDeployResult(
        host="netlify", project=name, project_id=found.id, deployment_id=deploy.id, url=url,
        tree_digest=digest, env_vars=tuple(env), env_protection=protection, reused=reused,
        check=await check(url) if check else None,
    )  # fmt: skip
