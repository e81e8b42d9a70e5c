"""Netlify API (`https://api.netlify.com/api/v1`): validate, create a site, and deploy a
file tree by digest.

`deploy` sends `{"files": {"/path": sha1}}`; Netlify answers with the SHA-1s it still
`required`, and only those are uploaded (`PUT /deploys/{id}/files/{path}`, raw bytes,
path URL-encoded without its leading slash). A re-run uploads nothing Netlify already has.
`wait_ready` polls the deploy until `state == "ready"` ("error" raises `BuildFailed`).

Errors: `AuthError` (401), `ProviderPermissionError` (403), `NotFound`,
`InvalidRequest` (422, e.g. a site name someone else holds), `RateLimited`, `Upstream`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import quote

from tools.clients._base import ProviderClient
from tools.clients._messages import ProviderInfo
from tools.clients.errors import BuildFailed, NotFound
from tools.clients.webhost_models import NetlifyDeploy, NetlifySite, NetlifyUser

__all__ = ["NETLIFY", "NetlifyClient"]

NETLIFY = ProviderInfo(
    name="Netlify",
    keys_url="https://app.netlify.com/user/applications#personal-access-tokens",
    status_url="https://www.netlifystatus.com",
    permission_hint="The token's account must own the site (or belong to its team).",
)


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
        return await self._one(NetlifySite, "GET", f"/sites/{_seg(site)}", f"the site {site}")

    async def ensure_site(self, name: str) -> NetlifySite:
        """The site `name` (at `name.netlify.app`), created if missing."""
        try:
            return await self.get_site(f"{name}.netlify.app")
        except NotFound:
            return await self._one(
                NetlifySite, "POST", "/sites", f"the site {name}", json={"name": name}
            )

    async def deploy(self, site_id: str, files: Mapping[str, bytes]) -> NetlifyDeploy:
        """Deploy `files` (path -> bytes) to a site; uploads only what Netlify requires."""
        digests = {"/" + p.lstrip("/"): _sha1(raw) for p, raw in files.items()}
        body = {"files": digests, "draft": False}
        what = f"a deploy of site {site_id}"
        deploy = await self._one(
            NetlifyDeploy, "POST", f"/sites/{_seg(site_id)}/deploys", what, json=body
        )
        required, sent = set(deploy.required), set[str]()
        for path, raw in sorted(files.items()):
            sha = _sha1(raw)
            if sha in required and sha not in sent:
                # Netlify wants the path without its leading slash, URL-encoded.
                url = f"/deploys/{_seg(deploy.id)}/files/{quote(path.lstrip('/'), safe='/')}"
                headers = {"Content-Type": "application/octet-stream"}
                await self._api.call(
                    "PUT", url, content=raw, headers=headers, what=f"the file {path}"
                )
                sent.add(sha)
        return deploy

    async def get_deploy(self, site_id: str, deploy_id: str) -> NetlifyDeploy:
        path = f"/sites/{_seg(site_id)}/deploys/{_seg(deploy_id)}"
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


def _failed(deploy: NetlifyDeploy) -> BuildFailed | None:
    if deploy.state not in ("error", "rejected"):
        return None
    return BuildFailed(
        f"The Netlify deploy {deploy.id} failed: {deploy.error_message or 'no reason given'}. "
        "Open the deploy log in the Netlify dashboard, fix the app, then deploy again.",
        provider=NETLIFY.name,
    )


def _sha1(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()  # noqa: S324 (Netlify's file digest is SHA-1)


def _seg(value: str) -> str:
    return quote(value, safe="")
