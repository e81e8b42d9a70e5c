"""Google Cloud Run with an NVIDIA L4 GPU, as a `DeployTarget`.

Our worker image (`plan.image`, pushed to Artifact Registry) runs as a private Cloud Run
service named for the deployment id, in the project of the user's service-account key
(the `gcp` credential, exchanged for an access token by `GcpAuth`). The service scales
from `min_replicas` to `max_replicas` instances with `concurrency` requests each; Cloud Run
itself scales an idle service to zero (its idle time is not configurable, so
`idle_scale_to_zero_s` has no Cloud Run setting). Calls need an ID token minted for the
service URL: nothing grants `allUsers` the invoker role.

Before any spend: the region must offer L4 GPUs (the catalog), the plan must name an
image, and the key must hold every permission a deploy needs (Resource Manager's
`testIamPermissions` on the project). A service whose container does not start is deleted
at once, so a failure leaves nothing behind.

Prices: Cloud Run's published price list (cloud.google.com/run/pricing), Tier 1,
instance-based billing (GPUs require it): L4 without zonal redundancy $0.0001867/s, CPU
$0.000018 per vCPU-second, memory $0.000002 per GiB-second; read on 2026-12-07. One
instance is 4 vCPU + 16 GiB + one L4: $1.0465/h. Regions whose Tier-2 GPU price we could
not confirm (asia-southeast1, asia-south1) are left out of the catalog rather than guessed.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx

from tools.clients._http import HttpApi, Retry, as_dict
from tools.clients.cloudrun import CLOUDRUN_INFO, CloudRunClient, GpuServiceSpec, ServiceFailed
from tools.clients.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    ProviderPermissionError,
    Timeout,
)
from tools.clients.gcp_auth import GOOGLE_INFO, GcpAuth, ServiceAccount
from tools.targets.base import (
    Progress,
    TargetEndpoint,
    TargetGpu,
    TargetName,
    TargetPlan,
    TokenSource,
)
from vault.settings import Settings

__all__ = ["L4_OFFER_ID", "REQUIRED_PERMISSIONS", "CloudRunTarget", "service_id_for"]

L4_OFFER_ID = "nvidia-l4"
_SOURCE = "cloud.google.com/run/pricing, Tier 1, instance-based billing, read 2026-12-07"
_CPU, _MEMORY_GIB = 4, 16
_L4_USD_S, _VCPU_USD_S, _GIB_USD_S = 0.0001867, 0.000018, 0.000002
L4_USD_PER_HOUR = round((_L4_USD_S + _CPU * _VCPU_USD_S + _MEMORY_GIB * _GIB_USD_S) * 3600, 4)
_L4_REGIONS = ("us-central1", "us-east4", "europe-west1", "europe-west4")
# roles/run.admin (create, read, delete services; read operations; invoke for the smoke
# test) and roles/iam.serviceAccountUser (a revision runs as a service account).
REQUIRED_PERMISSIONS = [
    "run.services.create", "run.services.get", "run.services.delete", "run.operations.get",
    "run.routes.invoke", "iam.serviceAccounts.actAs",
]  # fmt: skip


def service_id_for(deployment_id: str) -> str:
    """The Cloud Run service id for a deployment: stable, valid (lowercase letters, digits,
    hyphens, a letter first, at most 49), and distinct for distinct ids."""
    slug = re.sub(r"[^a-z0-9]+", "-", deployment_id.lower()).strip("-")
    digest = hashlib.sha256(deployment_id.encode()).hexdigest()[:8]
    return f"kt-{slug[:36].rstrip('-')}-{digest}".replace("--", "-")


class CloudRunTarget:
    """Deploys a plan as a private Cloud Run GPU service."""

    name: TargetName = "cloudrun"
    credential = "gcp"

    def __init__(
        self, *, http: httpx.AsyncClient, settings: Settings, tokens: TokenSource,
        retry: Retry | None = None, poll_s: float = 5.0,
    ) -> None:  # fmt: skip
        self._http, self._settings, self._tokens = http, settings, tokens
        self._retry = retry or Retry()
        self._poll_s = poll_s
        self._auth = GcpAuth(http=http, token_url=settings.google_oauth_token_url,
                             retry=self._retry, timeout_s=settings.http_timeout_s)  # fmt: skip

    def __repr__(self) -> str:
        return f"CloudRunTarget(base_url={self._settings.cloudrun_base_url!r})"

    # ---- the interface ----------------------------------------------------------
    async def catalog(self, user_id: str) -> list[TargetGpu]:
        """L4 in each region with a confirmed price (no call: Google publishes no price API
        that a service-account key can read without the Billing API enabled)."""
        return [_offer(region) for region in _L4_REGIONS]

    async def create(self, user_id: str, plan: TargetPlan) -> TargetEndpoint:
        """Create the service, or adopt the one already named for this deployment."""
        _check_plan(plan)
        account, client = await self._client(user_id)
        missing = await client.missing_permissions(account.project_id, REQUIRED_PERMISSIONS)
        if missing:
            raise ProviderPermissionError(
                f"The service account {account.email} lacks {', '.join(missing)} on project "
                f"{account.project_id}. {GOOGLE_INFO.permission_hint} Grant them at "
                "https://console.cloud.google.com/iam-admin/iam, then try again.",
                provider=GOOGLE_INFO.name, status=403,
            )  # fmt: skip
        service_id = service_id_for(plan.deployment_id)
        try:
            await client.create_service(
                account.project_id, plan.gpu.region, service_id, _spec(plan)
            )
        except Conflict:
            pass  # made by an earlier attempt of this deployment: adopt it
        found = await client.get_service(_name(account, plan))
        return _endpoint(service_id, found)

    async def wait_ready(
        self, user_id: str, plan: TargetPlan, progress: Progress, *, timeout_s: float
    ) -> TargetEndpoint:
        """Poll the service until it serves; a failed one is deleted, then reported."""
        account, client = await self._client(user_id)
        name, service_id = _name(account, plan), service_id_for(plan.deployment_id)
        clock, said = self._retry.clock, ""
        deadline = clock().timestamp() + timeout_s
        while True:
            endpoint = _endpoint(service_id, await client.get_service(name))
            if endpoint.state == "ready":
                await progress(f"Cloud Run service {service_id} is ready.")
                return endpoint
            if endpoint.state in ("failed", "gone"):
                return await self._failed(client, name, endpoint)
            text = f"Cloud Run is starting {service_id} in {plan.gpu.region} (L4 GPU)…"
            if text != said:
                await progress(text)
                said = text
            if clock().timestamp() >= deadline:
                raise Timeout(f"{CLOUDRUN_INFO.name} service {service_id} was not ready after "
                              f"{timeout_s:g} s. Tear it down, or look again later.",
                              provider=CLOUDRUN_INFO.name)  # fmt: skip
            await self._retry.sleep(self._poll_s)

    async def smoke_test(
        self,
        user_id: str,
        endpoint: TargetEndpoint,
        payload: dict[str, Any],
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """One `POST {url}/runsync` (the worker's RunPod-style route) with an ID token."""
        if endpoint.url is None:
            raise InvalidRequest(
                f"The Cloud Run service {endpoint.resource_id} has no URL yet; wait until it "
                "is ready.", provider=CLOUDRUN_INFO.name,
            )  # fmt: skip
        account = ServiceAccount.parse(await self._tokens(user_id))
        id_token = await self._auth.id_token(account, endpoint.url)
        api = HttpApi(http=self._http, base_url=endpoint.url, info=CLOUDRUN_INFO, token=id_token,
                      retry=self._retry, timeout_s=self._settings.http_timeout_s)  # fmt: skip
        body = await api.call("POST", "/runsync", json={"input": payload}, idempotent=True,
                              what=f"the service {endpoint.resource_id}")  # fmt: skip
        return as_dict(body)

    async def teardown(self, user_id: str, plan: TargetPlan) -> bool:
        """Delete the service and wait until Google confirms it is gone."""
        account, client = await self._client(user_id)
        name = _name(account, plan)
        op = await client.delete_service(name)
        if op is not None:
            await client.wait_operation(op, poll_s=self._poll_s)
        return await client.get_service(name) is None

    async def running_usd_per_hour(
        self, user_id: str, endpoint: TargetEndpoint, plan: TargetPlan
    ) -> float | None:
        """Instances x price where the count is known: none once gone or failed; exactly
        `min` when min = max. Otherwise None: the Admin API does not report how many
        instances run (Cloud Monitoring would), and a guess is never shown as a price."""
        if endpoint.state in ("gone", "failed"):
            return 0.0
        if plan.min_replicas == plan.max_replicas:
            return plan.min_replicas * plan.gpu.usd_per_hour
        return None

    # ---- internals --------------------------------------------------------------
    async def _client(self, user_id: str) -> tuple[ServiceAccount, CloudRunClient]:
        account = ServiceAccount.parse(await self._tokens(user_id))
        token = await self._auth.access_token(account)
        client = CloudRunClient(
            http=self._http, base_url=self._settings.cloudrun_base_url,
            resource_manager_url=self._settings.cloud_resource_manager_base_url,
            token=token, retry=self._retry, timeout_s=self._settings.http_timeout_s,
        )  # fmt: skip
        return account, client

    async def _failed(
        self, client: CloudRunClient, name: str, endpoint: TargetEndpoint
    ) -> TargetEndpoint:
        if endpoint.state == "gone":
            raise NotFound(f"The Cloud Run service {endpoint.resource_id} no longer exists; "
                           "deploy again.", provider=CLOUDRUN_INFO.name, status=404)  # fmt: skip
        op = await client.delete_service(name)  # a failed service serves nothing: remove it
        if op is not None:
            await client.wait_operation(op, poll_s=self._poll_s)
        raise ServiceFailed(
            f"The Cloud Run service {endpoint.resource_id} did not start: {endpoint.message} "
            "Check that the image serves HTTP on $PORT and that the model fits the L4's "
            "24 GB. The service was deleted; nothing is running.",
            provider=CLOUDRUN_INFO.name,
        )


def _offer(region: str) -> TargetGpu:
    return TargetGpu(
        target="cloudrun", offer_id=L4_OFFER_ID,
        label=f"NVIDIA L4 24 GB (Google Cloud Run, {region})", gpu_memory_gib=24.0,
        usd_per_hour=L4_USD_PER_HOUR, region=region, source=_SOURCE,
    )  # fmt: skip


def _check_plan(plan: TargetPlan) -> None:
    """Bad input, refused before any call that could cost money."""

    def bad(text: str) -> InvalidRequest:
        return InvalidRequest(text, provider=CLOUDRUN_INFO.name)

    if plan.gpu.target != "cloudrun" or plan.gpu.offer_id != L4_OFFER_ID:
        raise bad(f"Cloud Run offers only {L4_OFFER_ID}, not {plan.gpu.offer_id!r}.")
    if plan.gpu.region not in _L4_REGIONS:
        raise bad(f"Cloud Run has no L4 GPUs in {plan.gpu.region!r}. Pick one of "
                  f"{', '.join(_L4_REGIONS)}.")  # fmt: skip
    if not plan.image:
        raise bad("Cloud Run runs our worker image: build and push it first (plan.image).")
    if not 0 <= plan.min_replicas <= plan.max_replicas or plan.max_replicas < 1:
        raise bad("Instances must satisfy 0 <= minimum <= maximum, with a maximum of 1 or more.")
    if plan.concurrency < 1:
        raise bad("Concurrency must be at least 1 request per instance.")


def _spec(plan: TargetPlan) -> GpuServiceSpec:
    return GpuServiceSpec(
        image=plan.image or "",  # _check_plan refused a plan without one
        cpu=str(_CPU), memory=f"{_MEMORY_GIB}Gi",
        min_instances=plan.min_replicas, max_instances=plan.max_replicas,
        concurrency=plan.concurrency,
        labels={"managed-by": "kriptik", "kriptik-deployment": service_id_for(plan.deployment_id)},
        env={"KRIPTIK_REPO_ID": plan.repo_id, "KRIPTIK_REVISION": plan.revision,
             "KRIPTIK_TASK": plan.task},
    )  # fmt: skip


def _name(account: ServiceAccount, plan: TargetPlan) -> str:
    return (f"projects/{account.project_id}/locations/{plan.gpu.region}/services/"
            f"{service_id_for(plan.deployment_id)}")  # fmt: skip


def _endpoint(service_id: str, service: dict[str, Any] | None) -> TargetEndpoint:
    """The service as a `TargetEndpoint` (None: it does not exist)."""
    if service is None:
        return TargetEndpoint(target="cloudrun", resource_id=service_id, url=None, state="gone")
    condition = as_dict(service.get("terminalCondition"))
    state = str(condition.get("state", ""))
    uri = service.get("uri")
    if state == "CONDITION_FAILED":
        message = str(condition.get("message", "the revision failed"))
        return TargetEndpoint(target="cloudrun", resource_id=service_id, url=None,
                              state="failed", message=message[:400])  # fmt: skip
    if state == "CONDITION_SUCCEEDED" and not service.get("reconciling") and isinstance(uri, str):
        return TargetEndpoint(target="cloudrun", resource_id=service_id, url=uri, state="ready")
    waiting = "pending" if state == "CONDITION_PENDING" else "initializing"
    return TargetEndpoint(target="cloudrun", resource_id=service_id, url=None, state=waiting)
