"""Netlify API (`https://api.netlify.com/api/v1`): validate, sites, secret environment
variables, and deploys of a file tree (and zipped functions) by digest.

`deploy` sends `{"files": {"/path": sha1}}` (and `{"functions": {name: sha256}}`); Netlify
answers with the digests it still `required` (`required_functions`), and only those are
uploaded (`PUT /deploys/{id}/files/{path}`, raw bytes, path URL-encoded without its leading
slash; `PUT /deploys/{id}/functions/{name}`). A re-run uploads nothing Netlify already has.
`wait_ready` polls the deploy until `state == "ready"` ("error" raises `BuildFailed`).
`set_env` stores each variable as a secret for the functions, or fails: a plan without
secret variables never gets the key as a plain one.

Errors: `AuthError` (401), `ProviderPermissionError` (403), `NotFound`,
`InvalidRequest` (422, e.g. a site name someone else holds), `RateLimited`, `Upstream`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from pydantic import SecretStr

from tools.clients._base import ProviderClient
from tools.clients._http import as_dict, as_list, path_segment, sha1_hex
from tools.clients._messages import ProviderInfo
from tools.clients.errors import BuildFailed, InvalidRequest, NotFound, ProviderPermissionError
from tools.clients.webhost_models import NetlifyDeploy, NetlifySite, NetlifyUser

__all__ = ["NETLIFY", "NetlifyClient"]

NETLIFY = ProviderInfo(
    name="Netlify",
    keys_url="https://app.netlify.com/user/applications#personal-access-tokens",
    status_url="https://www.netlifystatus.com",
    permission_hint="The token's account must own the site (or belong to its team).",
)
_CONTEXTS = ("production", "deploy-preview", "branch-deploy")


class NetlifyClient(ProviderClient):
    """Netlify's API for one personal access token; `base_url` is
    `https://api.netlify.com/api/v1` (settings: netlify_base_url).

    Args: see `ProviderClient`.
    """

    info = NETLIFY

    async def user(self) -> NetlifyUser:
        return await self._one(NetlifyUser, "GET", "/user", "your account")

    async def get_site(self, site: str) -> NetlifySite:
        """A site by id or by domain (`name.netlify.app`)."""
        return await self._one(
            NetlifySite, "GET", f"/sites/{path_segment(site)}", f"the site {site}"
        )

    async def ensure_site(self, name: str) -> NetlifySite:
        """The site `name` (at `name.netlify.app`), created if missing."""
        try:
            return await self.get_site(f"{name}.netlify.app")
        except NotFound:
            return await self._one(
                NetlifySite, "POST", "/sites", f"the site {name}", json={"name": name}
            )

    async def delete_site(self, site_id: str) -> bool:
        """Delete a site with all its deploys; False when it was already gone."""
        return await self._delete(f"/sites/{path_segment(site_id)}", f"site {site_id}")

    async def account_of(self, site_id: str) -> str:
        """The account (slug, else id) that owns the site: env vars live there."""
        data = await self._api.call(
            "GET", f"/sites/{path_segment(site_id)}", what=f"site {site_id}"
        )
        site = as_dict(data)
        return str(site.get("account_slug") or site.get("account_id") or "")

    async def set_env(self, site_id: str, env: Mapping[str, SecretStr]) -> Literal["secret"]:
        """Create or update site variables for the functions, each as a secret.

        Raises:
            InvalidRequest, ProviderPermissionError: Netlify refused a secret variable
                (secret values need a plan that has them); the message gives the
                options. No variable is ever stored as a plain one instead.
        """
        account = path_segment(await self.account_of(site_id))
        for key, value in env.items():
            try:
                await self._put_var(account, site_id, key, value)
            except (InvalidRequest, ProviderPermissionError) as err:
                raise type(err)(
                    _secret_refused(key, err), provider=err.provider, status=err.status,
                    request_id=err.request_id,
                ) from None  # fmt: skip
        return "secret"

    async def deploy(
        self, site_id: str, files: Mapping[str, bytes], functions: Mapping[str, bytes] | None = None
    ) -> NetlifyDeploy:
        """Deploy `files` (path -> bytes) and zipped `functions` (name -> zip) to a site;
        uploads only what Netlify requires."""
        functions = functions or {}
        digests = {"/" + p.lstrip("/"): sha1_hex(raw) for p, raw in files.items()}
        fn_digests = {name: hashlib.sha256(raw).hexdigest() for name, raw in functions.items()}
        body: dict[str, Any] = {"files": digests, "draft": False}
        if functions:
            body["functions"] = fn_digests
        what = f"a deploy of site {site_id}"
        data = await self._api.call(
            "POST", f"/sites/{path_segment(site_id)}/deploys", json=body, what=what
        )
        deploy = self._api.model(NetlifyDeploy, data)
        required = set(deploy.required)
        for path, raw in sorted(files.items()):
            if (sha := sha1_hex(raw)) in required:
                # Netlify wants the path without its leading slash, URL-encoded.
                url = (
                    f"/deploys/{path_segment(deploy.id)}/files/{quote(path.lstrip('/'), safe='/')}"
                )
                await self._upload(url, raw, f"the file {path}")
                required.discard(sha)
        wanted = {str(sha) for sha in as_list(as_dict(data).get("required_functions"))}
        for name, raw in sorted(functions.items()):
            if fn_digests[name] in wanted:
                url = f"/deploys/{path_segment(deploy.id)}/functions/{path_segment(name)}"
                await self._upload(url, raw, f"the function {name}", params={"runtime": "js"})
        return deploy

    async def get_deploy(self, site_id: str, deploy_id: str) -> NetlifyDeploy:
        path = f"/sites/{path_segment(site_id)}/deploys/{path_segment(deploy_id)}"
        return await self._one(NetlifyDeploy, "GET", path, f"the deploy {deploy_id}")

    async def wait_ready(
        self, site_id: str, deploy_id: str, *, poll_s: float = 3.0, timeout_s: float = 900.0
    ) -> NetlifyDeploy:
        """Poll until `ready`; `BuildFailed` on `error`, `Timeout` after `timeout_s`."""
        return await self._poll(
            lambda: self.get_deploy(site_id, deploy_id),
            done=lambda d: d.state == "ready",
            failed=_failed,
            poll_s=poll_s,
            timeout_s=timeout_s,
            still=lambda d: f"The Netlify deploy {d.id} is still {d.state}",
        )

    async def _put_var(self, account: str, site_id: str, key: str, value: SecretStr) -> None:
        values = [{"value": value.get_secret_value(), "context": c} for c in _CONTEXTS]
        body = {"key": key, "scopes": ["functions"], "is_secret": True, "values": values}
        params, what = {"site_id": site_id}, f"the variable {key}"
        var = f"/accounts/{account}/env/{path_segment(key)}"
        try:
            await self._api.call("GET", var, params=params, what=what)
        except NotFound:
            await self._api.call("POST", f"/accounts/{account}/env", json=[body], params=params,
                                 idempotent=True, what=what)  # fmt: skip
            return
        await self._api.call("PUT", var, json=body, params=params, what=what)

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


def _failed(deploy: NetlifyDeploy) -> BuildFailed | None:
    if deploy.state not in ("error", "rejected"):
        return None
    return BuildFailed(
        f"The Netlify deploy {deploy.id} failed: {deploy.error_message or 'no reason given'}. "
        "Open the deploy log in the Netlify dashboard, fix the app, then deploy again.",
        provider=NETLIFY.name,
    )
