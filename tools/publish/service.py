"""Publishing for the agent's tools and the pipeline's web-app stage: the user's keys are
read from the vault per call and go straight into a client; nothing here returns one.

```
app_for(user, endpoint)  the AppSpec of the user's deployment with that endpoint
push(user, endpoint)     publish_to_github with the user's GitHub key
deploy(user, endpoint)   deploy_to_vercel / deploy_to_netlify with the user's host key and
                         RunPod key, then the integration check on the live app
```
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from pydantic import SecretStr

from tools.artifacts.webapp import AppSpec
from tools.clients._http import Retry
from tools.publish.check import check_app
from tools.publish.from_deployment import AppUnavailable, spec_from_deployment
from tools.publish.github import GitHubPublisher, publish_to_github
from tools.publish.models import (
    AppCheck,
    DeploymentRecorder,
    RepoResult,
    WebDeployResult,
    WebHost,
)
from tools.publish.netlify import NetlifyPublisher, deploy_to_netlify
from tools.publish.vercel import VercelPublisher, deploy_to_vercel
from vault import Settings, Vault
from vault.deployments import DeploymentStore

__all__ = ["LivePublishing"]

Sleep = Callable[[float], Awaitable[None]]


class LivePublishing:
    """Publishing over one vault, the settings' provider URLs and the shared HTTP client.

    Args:
        vault: Where the user's keys and deployments are.
        settings: Provider base URLs and timeouts.
        http: The process-wide HTTP client.
        retry: Retry policy for the provider clients (a fake clock in tests).
        sleep: Sleep between the integration check's job polls (a fake in tests).
    """

    def __init__(
        self,
        vault: Vault,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        retry: Retry | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._vault, self._settings, self._http = vault, settings, http
        self._retry, self._sleep = retry, sleep

    async def app_for(self, user_id: str, endpoint_id: str) -> AppSpec:
        """The app for the user's deployment that owns `endpoint_id`.

        Raises:
            AppUnavailable: No deployment of this user has that endpoint.
        """
        for view in await DeploymentStore(self._vault.sessions).list(user_id):
            if view.endpoint_id == endpoint_id:
                return spec_from_deployment(view)
        raise AppUnavailable(
            f"none of your deployments has the endpoint {endpoint_id!r}; use the endpoint id "
            "that create_runpod_endpoint returned"
        )

    async def vault_values(self, user_id: str) -> list[SecretStr]:
        """Every value the user stored, for the pre-push scan."""
        creds = self._vault.credentials
        return [
            await creds.get(user_id, v.provider, label=v.label) for v in await creds.list(user_id)
        ]

    async def push(
        self, user_id: str, spec: AppSpec, *, repo_name: str, private: bool = True,
        recorder: DeploymentRecorder | None = None,
    ) -> RepoResult:  # fmt: skip
        github = GitHubPublisher(
            http=self._http, base_url=self._settings.github_api_base_url,
            token=await self._vault.credentials.get(user_id, "github"),
            timeout_s=self._settings.http_timeout_s, retry=self._retry,
        )  # fmt: skip
        secrets = await self.vault_values(user_id)
        return await publish_to_github(
            spec, github=github, repo_name=repo_name, private=private, secrets=secrets,
            recorder=recorder,
        )  # fmt: skip

    async def deploy(
        self, user_id: str, spec: AppSpec, *, host: WebHost, name: str,
        recorder: DeploymentRecorder | None = None, previous: WebDeployResult | None = None,
    ) -> WebDeployResult:  # fmt: skip
        creds = self._vault.credentials
        key, secrets = await creds.get(user_id, "runpod"), await self.vault_values(user_id)
        token = await creds.get(user_id, host)

        async def check(url: str) -> AppCheck:
            return await check_app(self._http, url, spec, sleep=self._sleep)

        if host == "vercel":
            vercel = VercelPublisher(
                http=self._http, base_url=self._settings.vercel_base_url, token=token,
                timeout_s=self._settings.http_timeout_s, retry=self._retry,
            )  # fmt: skip
            return await deploy_to_vercel(
                spec, vercel=vercel, runpod_key=key, project=name, secrets=secrets,
                recorder=recorder, previous=previous, check=check,
            )  # fmt: skip
        netlify = NetlifyPublisher(
            http=self._http, base_url=self._settings.netlify_base_url, token=token,
            timeout_s=self._settings.http_timeout_s, retry=self._retry,
        )  # fmt: skip
        return await deploy_to_netlify(
            spec, netlify=netlify, runpod_key=key, site=name, secrets=secrets,
            recorder=recorder, previous=previous, check=check,
        )  # fmt: skip
