"""Publishing for the agent's tools and the pipeline's web-app stage: the user's keys are
taken per call through `Connections.token` (a connected account's refreshed before it
expires) and go straight into a client; nothing here returns one. Before a web deploy
spends anything, `Connections.require_scopes` checks the host's credential works
(`ReconnectNeeded` / `MissingScopes` otherwise, which the agent turns into a reconnect offer).

```
app_for(user, endpoint)  the AppSpec of the user's deployment with that endpoint
push(user, endpoint)     publish_to_github with the user's GitHub key, then the local
                         copy with its filled `.env` (no key) under home/apps/<user>/<repo>
deploy(user, endpoint)   deploy_to_vercel / deploy_to_netlify with the user's host key and
                         RunPod key, then the integration check on the live app
record(user, endpoint)   add what was published to the deployment's record (teardown
                         deletes the web host's project from there)
summary(user, endpoint)  the closing summary: every URL, the idle cost, the teardown
```
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

import httpx
from pydantic import SecretStr

from tools.artifacts.webapp import (
    ENV_NAMES,
    AppSpec,
    check_project_name,
    render_app,
    write_local_project,
)
from tools.clients._base import ProviderClient
from tools.clients._http import Retry
from tools.clients.github import GitHubClient
from tools.clients.netlify import NetlifyClient
from tools.clients.vercel import VercelClient
from tools.connect import Connections, Feature
from tools.publish.check import check_app
from tools.publish.from_deployment import AppUnavailable, spec_from_deployment
from tools.publish.github import publish_to_github
from tools.publish.models import (
    AppCheck,
    AppSummary,
    DeploymentRecorder,
    RepoResult,
    ResourceKind,
    WebDeployResult,
    WebHost,
)
from tools.publish.netlify import deploy_to_netlify
from tools.publish.summary import summarize
from tools.publish.teardown import resource_urls
from tools.publish.vercel import deploy_to_vercel
from tools.publish.webhost import env_for
from tools.targets.base import TARGET_CREDENTIALS
from vault import Settings, Vault
from vault.deployments import DeploymentStore, DeploymentView

__all__ = ["DeploymentResources", "LivePublishing", "merge_urls"]

Sleep = Callable[[float], Awaitable[None]]
_C = TypeVar("_C", bound=ProviderClient)


class LivePublishing:
    """Publishing over one vault, the settings' provider URLs and the shared HTTP client.

    Args:
        vault: Where the user's keys and deployments are.
        settings: Provider base URLs and timeouts.
        http: The process-wide HTTP client.
        retry: Retry policy for the provider clients (a fake clock in tests).
        sleep: Sleep between the integration check's job polls (a fake in tests).
        connections: The root's `Connections` (token use, scope checks); else our own.
    """

    def __init__(
        self,
        vault: Vault,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        retry: Retry | None = None,
        sleep: Sleep = asyncio.sleep,
        connections: Connections | None = None,
    ) -> None:
        self._vault, self._settings, self._http = vault, settings, http
        self._retry, self._sleep = retry, sleep
        self._connections = connections or Connections(vault, settings, http, retry=retry)

    def _client(self, cls: type[_C], base_url: str, token: SecretStr) -> _C:
        """A client of `cls` for one of the user's keys, on the shared HTTP client."""
        return cls(
            http=self._http, base_url=base_url, token=token,
            timeout_s=self._settings.http_timeout_s, retry=self._retry,
        )  # fmt: skip

    async def _deployment(self, user_id: str, endpoint_id: str) -> DeploymentView:
        for view in await DeploymentStore(self._vault.sessions).list(user_id):
            if view.endpoint_id == endpoint_id:
                return view
        raise AppUnavailable(
            f"none of your deployments has the endpoint {endpoint_id!r}; use the endpoint id "
            "that create_runpod_endpoint returned"
        )

    async def app_for(self, user_id: str, endpoint_id: str) -> AppSpec:
        """The app for the user's deployment that owns `endpoint_id`.

        Raises:
            AppUnavailable: No deployment of this user has that endpoint.
        """
        return spec_from_deployment(await self._deployment(user_id, endpoint_id))

    async def record(self, user_id: str, endpoint_id: str, urls: Mapping[str, str]) -> None:
        """Add `urls` to the record of the user's deployment that owns `endpoint_id`."""
        view = await self._deployment(user_id, endpoint_id)
        await merge_urls(DeploymentStore(self._vault.sessions), view.id, urls)

    async def summary(
        self, user_id: str, endpoint_id: str, *, web: WebDeployResult | None = None
    ) -> AppSummary:
        """The closing summary of the deployment that owns `endpoint_id`, from its record."""
        view = await self._deployment(user_id, endpoint_id)
        return summarize(view, web=web, jobs_base_url=self._settings.runpod_jobs_base_url)

    async def vault_values(self, user_id: str) -> list[SecretStr]:
        """Every value the user stored (refresh tokens too), for the pre-push scan."""
        creds, values = self._vault.credentials, list[SecretStr]()
        for view in await creds.list(user_id):
            grant = await creds.grant(user_id, view.provider, label=view.label)
            values += [grant.access, *([grant.refresh] if grant.refresh else [])]
        return values

    async def push(
        self, user_id: str, spec: AppSpec, *, repo_name: str, private: bool = True,
        recorder: DeploymentRecorder | None = None,
    ) -> RepoResult:  # fmt: skip
        token = await self._connections.token(user_id, "github")
        github = self._client(GitHubClient, self._settings.github_api_base_url, token)
        secrets = await self.vault_values(user_id)
        result = await publish_to_github(
            spec, github=github, repo_name=repo_name, private=private, secrets=secrets,
            recorder=recorder,
        )  # fmt: skip
        env = write_local_project(
            render_app(spec), self.local_project(user_id, repo_name),
            jobs_base_url=self._settings.runpod_jobs_base_url,
        )  # fmt: skip
        if recorder is not None:
            key_name = ENV_NAMES[spec.endpoint.target][0]
            await recorder.progress(f"Local copy: {env.parent} (fill {key_name} in its .env)")
        return result

    def local_project(self, user_id: str, repo_name: str) -> Path:
        """Where the user's copy of a pushed app lives: `home/apps/<user id>/<repo>`."""
        return self._settings.home / "apps" / check_project_name(user_id) / repo_name

    async def deploy(
        self, user_id: str, spec: AppSpec, *, host: WebHost, name: str,
        recorder: DeploymentRecorder | None = None, previous: WebDeployResult | None = None,
    ) -> WebDeployResult:  # fmt: skip
        # Before anything is created: the host's credential works (refreshed if need be).
        feature: Feature = "web_vercel" if host == "vercel" else "web_netlify"
        await self._connections.require_scopes(user_id, host, {feature})
        tokens = self._connections
        credential = TARGET_CREDENTIALS[
            spec.endpoint.target
        ]  # what api/infer.js calls the endpoint with
        key, secrets = await tokens.token(user_id, credential), await self.vault_values(user_id)
        # A credential the function cannot use (an AWS role) stops here, before any spend.
        env_for(spec, key, None)
        token = await tokens.token(user_id, host)

        async def check(url: str) -> AppCheck:
            return await check_app(self._http, url, spec, sleep=self._sleep)

        if host == "vercel":
            vercel = self._client(VercelClient, self._settings.vercel_base_url, token)
            return await deploy_to_vercel(
                spec, vercel=vercel, runpod_key=key, project=name, secrets=secrets,
                recorder=recorder, previous=previous, check=check,
            )  # fmt: skip
        netlify = self._client(NetlifyClient, self._settings.netlify_base_url, token)
        return await deploy_to_netlify(
            spec, netlify=netlify, runpod_key=key, site=name, secrets=secrets,
            recorder=recorder, previous=previous, check=check,
        )  # fmt: skip


async def merge_urls(store: DeploymentStore, deployment_id: str, urls: Mapping[str, str]) -> None:
    """Add `urls` to a deployment's record (a no-op when it has them already)."""
    view = await store.get(deployment_id, user_id=None)
    if any(view.urls.get(key) != value for key, value in urls.items()):
        await store.update(deployment_id, urls={**view.urls, **urls})


class DeploymentResources:
    """A recorder that writes each created resource into the deployment's record the
    moment it exists (so teardown finds it even after a crash); progress is dropped."""

    def __init__(self, store: DeploymentStore, deployment_id: str) -> None:
        self._store, self._id = store, deployment_id

    async def record_resource(self, kind: ResourceKind, resource_id: str, url: str | None) -> None:
        if urls := resource_urls(kind, resource_id, url):
            await merge_urls(self._store, self._id, urls)

    async def progress(self, message: str) -> None:
        return None
