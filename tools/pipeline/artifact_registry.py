"""Google Artifact Registry as the registry of Cloud Run deployments' worker images.

Cloud Run pulls only from Google's registries (or public Docker Hub), so a Cloud Run
deployment's image goes to Artifact Registry in the user's own project:
`{region}-docker.pkg.dev/{project_id}/kriptik/...`, pushed as the user `oauth2accesstoken`
with an access token minted from their `gcp` service-account key (Google's documented
`docker login` for Artifact Registry). The Docker repository `kriptik` must exist in the
project (`gcloud artifacts repositories create kriptik --repository-format=docker
--location=REGION`); the service account needs roles/artifactregistry.writer.

`login` first makes the registry's token handshake (`tools.clients.cloudrun.ArtifactRegistry`),
so a key that cannot push stops the deployment before the image is built.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

import httpx

from tools.clients._http import Retry
from tools.clients.cloudrun import ArtifactRegistry
from tools.clients.gcp_auth import GcpAuth, ServiceAccount
from tools.pipeline.services import RegistryLogin
from tools.targets.base import TokenSource

__all__ = ["AR_REPOSITORY", "AR_USERNAME", "ArtifactRegistryAccess"]

AR_USERNAME: Final = "oauth2accesstoken"
AR_REPOSITORY: Final = "kriptik"


@dataclass(frozen=True, kw_only=True)
class ArtifactRegistryAccess:
    """`RegistryAccess` for Artifact Registry, with each user's own service-account key.

    Args:
        http: The process-wide HTTP client.
        tokens: user id -> the user's `gcp` credential (the service-account JSON key).
        base_url: The settings' `artifact_registry_base_url` (`{region}` is filled in).
        token_url: The settings' `google_oauth_token_url` (never the key file's own).
        region: Where the repository is; `in_region` gives the same access elsewhere.
    """

    http: httpx.AsyncClient
    tokens: TokenSource
    base_url: str
    token_url: str
    region: str = "us-central1"
    retry: Retry | None = None
    timeout_s: float = 30.0
    _auth: GcpAuth = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        auth = GcpAuth(http=self.http, token_url=self.token_url, retry=self.retry,
                       timeout_s=self.timeout_s)  # fmt: skip
        object.__setattr__(self, "_auth", auth)

    @property
    def url(self) -> str:
        """The registry's base URL in this region."""
        return self.base_url.replace("{region}", self.region).rstrip("/")

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[-1]

    def in_region(self, region: str) -> ArtifactRegistryAccess:
        """The same access, for the repository in `region` (a service's own region: Cloud
        Run pulls fastest, and without egress charges, from there)."""
        return dataclasses.replace(self, region=region)

    async def namespace(self, user_id: str) -> str:
        account = ServiceAccount.parse(await self.tokens(user_id))
        return f"{account.project_id}/{AR_REPOSITORY}"

    async def login(self, user_id: str) -> RegistryLogin:
        """`oauth2accesstoken` and a fresh access token, checked against the registry."""
        account = ServiceAccount.parse(await self.tokens(user_id))
        token = await self._auth.access_token(account)
        registry = ArtifactRegistry(http=self.http, base_url=self.url, retry=self.retry,
                                    timeout_s=self.timeout_s)  # fmt: skip
        await registry.check_access(token)
        return RegistryLogin(server=self.host, username=AR_USERNAME, password=token)
