"""Vercel REST (`https://api.vercel.com`): validate, projects and env vars, and
deployments of a file tree uploaded by SHA.

`deploy` posts the deployment first, listing every file by SHA-1. Vercel answers
`missing_files` with the SHAs it does not have; only those are uploaded (`POST /v2/files`)
and the deployment is posted again. A re-run therefore uploads nothing Vercel already
holds. `wait_ready` polls `readyState` QUEUED -> BUILDING -> READY (ERROR raises).

Errors: `AuthError` (401, or 403 with `invalidToken`), `ProviderPermissionError`
(403: no access to the team), `NotFound`, `InvalidRequest`, `RateLimited`, `Upstream`,
`BuildFailed` (the deployment ended in ERROR or CANCELED).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from tools.clients._base import ProviderClient
from tools.clients._http import as_dict, as_list, path_segment, sha1_hex
from tools.clients._messages import ProviderInfo
from tools.clients.errors import BuildFailed, NotFound, ProviderError
from tools.clients.webhost_models import VercelDeployment, VercelProject, VercelUser

__all__ = ["VERCEL", "VercelClient", "VercelDeployment", "VercelProject", "VercelUser"]

VERCEL = ProviderInfo(
    name="Vercel",
    keys_url="https://vercel.com/account/settings/tokens",
    status_url="https://www.vercel-status.com",
    permission_hint="The token needs access to the team (scope) that owns the project.",
)
_TARGETS = ("production", "preview")
_LOG_LINES = 15


class VercelClient(ProviderClient):
    """Vercel's REST API for one token; `base_url` is `https://api.vercel.com`
    (settings: vercel_base_url). Set `team_id` to work inside a team.

    Args: see `ProviderClient`.
    """

    info = VERCEL
    team_id: str | None = None

    async def user(self) -> VercelUser:
        data = await self._api.call("GET", "/v2/user", what="your account")
        return self._api.model(VercelUser, as_dict(data).get("user"))

    async def ensure_project(self, name: str) -> VercelProject:
        """The project `name`, created if missing (env vars need it before a deploy)."""
        what, team = f"the project {name}", self._team()
        try:
            return await self._one(
                VercelProject, "GET", f"/v9/projects/{path_segment(name)}", what, params=team
            )
        except NotFound:
            body = {"name": name, "framework": None}
            return await self._one(
                VercelProject, "POST", "/v11/projects", what, json=body, params=team
            )

    async def set_env(
        self, project: str, env: Mapping[str, SecretStr], *, targets: tuple[str, ...] = _TARGETS
    ) -> None:
        """Create or update (upsert) encrypted environment variables of a project."""
        body = [
            {"key": k, "value": v.get_secret_value(), "type": "encrypted", "target": list(targets)}
            for k, v in env.items()
        ]
        path, params = (
            f"/v10/projects/{path_segment(project)}/env",
            {"upsert": "true", **self._team()},
        )
        what = f"the project {project}"
        await self._api.call("POST", path, json=body, params=params, idempotent=True, what=what)

    async def deploy(
        self, name: str, files: Mapping[str, bytes], *, target: str = "production"
    ) -> VercelDeployment:
        """Deploy `files` (path -> bytes) as project `name`; uploads only what Vercel lacks."""
        by_sha = {sha1_hex(raw): raw for raw in files.values()}
        listing = [
            {"file": p, "sha": sha1_hex(raw), "size": len(raw)} for p, raw in sorted(files.items())
        ]
        body = {"name": name, "project": name, "target": target, "files": listing,
                "projectSettings": {"framework": None}}  # fmt: skip
        what = f"the deployment of {name}"
        for attempt in range(2):
            resp, data = await self._api.exchange(
                "POST", "/v13/deployments", json=body, params=self._team(),
                ok={200, 201, 400}, what=what,
            )  # fmt: skip
            error = as_dict(as_dict(data).get("error"))
            if resp.status_code != 400:
                return self._api.model(VercelDeployment, data)
            if error.get("code") != "missing_files" or attempt:
                raise self._api.error_from(resp, what)
            missing: list[object] = error.get("missing") or []
            for raw in filter(None, (by_sha.get(str(sha)) for sha in missing)):
                await self._upload(raw)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_deployment(self, deployment_id: str) -> VercelDeployment:
        path, what = (
            f"/v13/deployments/{path_segment(deployment_id)}",
            f"the deployment {deployment_id}",
        )
        return await self._one(VercelDeployment, "GET", path, what, params=self._team())

    async def wait_ready(
        self, deployment_id: str, *, poll_s: float = 3.0, timeout_s: float = 900.0
    ) -> VercelDeployment:
        """Poll until READY; `BuildFailed` on ERROR/CANCELED, `Timeout` after `timeout_s`."""
        return await self._poll(
            lambda: self.get_deployment(deployment_id),
            done=lambda d: d.ready_state == "READY",
            failed=_failed,
            poll_s=poll_s,
            timeout_s=timeout_s,
            still=lambda d: f"The Vercel deployment {d.id} is still {d.ready_state}",
        )

    async def build_log(self, deployment_id: str) -> str:
        """The last lines of the deployment's build output ("" when Vercel has none)."""
        path = f"/v3/deployments/{path_segment(deployment_id)}/events"
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
        path = f"/v13/deployments/{path_segment(deployment.id)}"
        data = await self._api.call("GET", path, params=self._team(), what="the deployment")
        aliases = as_list(as_dict(data).get("alias"))
        if aliases and isinstance(aliases[0], str):
            return f"https://{aliases[0]}"
        return deployment.https_url

    async def delete_project(self, project: str) -> bool:
        """Delete a project (id or name) with all its deployments and env vars; False when
        it was already gone (so teardown may run again)."""
        path = f"/v9/projects/{path_segment(project)}"
        return await self._delete(path, f"the project {project}", params=self._team())

    async def _upload(self, raw: bytes) -> None:
        headers = {"Content-Type": "application/octet-stream", "x-vercel-digest": sha1_hex(raw)}
        await self._api.call(
            "POST", "/v2/files", content=raw, headers=headers, params=self._team(),
            idempotent=True, what="a file upload",
        )  # fmt: skip

    def _team(self) -> dict[str, str]:
        return {"teamId": self.team_id} if self.team_id else {}


def _failed(dep: VercelDeployment) -> BuildFailed | None:
    if dep.ready_state not in ("ERROR", "CANCELED", "BLOCKED"):
        return None
    where = dep.inspector_url or "the Vercel dashboard"
    return BuildFailed(
        f"The Vercel deployment {dep.id} ended in {dep.ready_state}: "
        f"{dep.error_message or 'no reason given'}. Open {where} for the build log, fix the "
        "app, then deploy again.",
        provider=VERCEL.name,
    )
