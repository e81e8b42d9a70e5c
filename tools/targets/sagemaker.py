"""Amazon SageMaker real-time endpoints on GPU instances, as a `DeployTarget`.

The user's `aws` credential (a role KripTik's principal assumes with the user's external
id, or a key pair: `tools.clients.aws_credentials`) opens one `AwsSession` per user and
region, kept in memory only (never stored); it renews the role's short-lived keys before
they expire and once more when AWS answers `ExpiredToken` mid-deploy.

```
model           kriptik-<deployment>-<hash>   Hugging Face's LLM container (TGI) for language
                                              models, else our worker image from ECR
endpoint config the same name                 one variant: the instance type, N instances
endpoint        the same name                 Creating -> InService (or Failed: deleted)
```

Every name comes from the deployment id, so a create re-run after a crash adopts what
exists (each create meets "already existing" and goes on). Before the first create, and
so before any spend: the credential's shape (a malformed role ARN), the instance type sold
in the region (the Price List), the account's quota for it, the role's trust policy
requiring the external id, and IAM's dry check of every permission the plan needs.

Which kind of endpoint a plan gets:
- `plan.min_replicas >= 1`: a classic endpoint; its instances run, busy or idle, and bill
  every hour until it is torn down (`_sagemaker.hourly_note`).
- `plan.min_replicas == 0`: scale to zero (`tools.targets._sagemaker_zero`): the model runs
  as an inference component on an endpoint with managed instance scaling; Application
  Auto Scaling takes its copies (and so the instances) to 0 after the plan's idle time,
  and a request that finds none sets off an alarm that starts one
  (`_sagemaker.scale_to_zero_note`). The smoke test waits for that start; the running
  cost is the endpoint's instances now (0 while scaled to zero).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Final

from tools.clients._http import Retry
from tools.clients.aws_credentials import (
    AwsCredential,
    AwsKeyCredential,
    InvalidAwsCredential,
    parse_aws_credential,
)
from tools.clients.aws_endpoints import AwsEndpoints, operator_keys
from tools.clients.aws_errors import AWS
from tools.clients.aws_iam import check_permissions, principal_of
from tools.clients.aws_permissions import AwsNames, plan_checks
from tools.clients.aws_pricing import AwsPricingClient, CachedSageMakerPrices
from tools.clients.aws_quotas import AwsQuotasClient
from tools.clients.aws_session import AwsSession
from tools.clients.ecr import EcrClient, RegistryLogin
from tools.clients.errors import (
    AuthError,
    InvalidRequest,
    NotFound,
    ProviderPermissionError,
    Timeout,
)
from tools.clients.sagemaker import SageMakerClient, endpoint_failed
from tools.clients.sagemaker_models import EndpointConfigSpec, EndpointStatus, ModelSpec
from tools.clients.sagemaker_runtime import Invocation, SageMakerRuntimeClient
from tools.targets import _sagemaker as rules
from tools.targets import _sagemaker_zero as zero
from tools.targets.base import (
    Progress,
    TargetEndpoint,
    TargetGpu,
    TargetName,
    TargetPlan,
    TokenSource,
)
from vault.settings import Settings

__all__ = ["CATALOG_REGIONS", "SageMakerTarget", "resource_name"]

resource_name = rules.resource_name
# Where offers are listed when the credential names no region of its own.
CATALOG_REGIONS: Final = ("us-east-1", "us-west-2")
_SESSIONS_KEPT: Final = 32
_WAITING: Final = frozenset({"Creating", "Updating", "SystemUpdating"})


class SageMakerTarget:
    """Deploys a plan as a SageMaker real-time endpoint in the user's AWS account."""

    name: TargetName = "sagemaker"
    credential = "aws"

    def __init__(
        self,
        *,
        settings: Settings,
        tokens: TokenSource,
        prices_path: Path | None = None,
        retry: Retry | None = None,
        poll_s: float = 15.0,
        cold_start_s: float = 900.0,
    ) -> None:
        """`cold_start_s`: how long a smoke test waits for a deployment scaled to zero to
        start a copy of its model (an instance boots, then the model loads)."""
        self._settings, self._tokens = settings, tokens
        self._retry = retry or Retry()
        self._poll_s, self._cold_start_s = poll_s, cold_start_s
        self._prices_path = prices_path or settings.home / "cache" / "sagemaker-prices.json"
        self._sessions: OrderedDict[tuple[str, str], tuple[str, AwsSession]] = OrderedDict()

    def __repr__(self) -> str:
        return f"SageMakerTarget(base_url={self._settings.aws_sagemaker_base_url!r})"

    # ---- the interface ----------------------------------------------------------
    async def catalog(self, user_id: str) -> list[TargetGpu]:
        """Each GPU instance type sold in the credential's region (else `CATALOG_REGIONS`),
        priced from the Price List (cached a week, with its date); a type the account has
        no quota for is listed with the link to request it (`quota_note`), never chosen."""
        credential = await self._credential(user_id)
        regions = (credential.region,) if credential.region else CATALOG_REGIONS
        offers: list[TargetGpu] = []
        for region in regions:
            session = await self.session(user_id, region)
            quotas = AwsQuotasClient(session)
            prices = CachedSageMakerPrices(
                AwsPricingClient(session, clock=self._retry.clock),
                self._prices_path,
                clock=self._retry.clock,
            )
            for kind in rules.INSTANCE_TYPES:
                quota = await quotas.endpoint_quota(kind.name)
                price = await prices.price(kind.name, region) if quota is not None else None
                if quota is not None and price is not None:  # else not sold in the region
                    offers.append(rules.offer(kind, price, quota))
        return offers

    async def create(self, user_id: str, plan: TargetPlan) -> TargetEndpoint:
        """Check everything that can be checked for free, then create (or adopt) the model,
        the endpoint config and the endpoint named for the deployment (scale to zero: and,
        once the endpoint is in service, its inference component and scaling)."""
        rules.check_plan(plan)
        session = await self.session(user_id, plan.gpu.region)
        execution_role = await self._preflight(session, plan)
        sm, name = SageMakerClient(session), rules.resource_name(plan.deployment_id)
        tags = rules.resource_tags(plan.deployment_id)
        image = plan.image or rules.serving_image(plan.gpu.region)
        model = ModelSpec(
            name=name,
            image=image,
            execution_role_arn=execution_role,
            environment=_environment(plan),
            tags=tags,
        )
        config = (
            zero.endpoint_config(plan, execution_role, tags)
            if plan.min_replicas == 0
            else EndpointConfigSpec(
                name=name,
                instance_type=plan.gpu.offer_id,
                model_name=name,
                instances=plan.max_replicas,
                tags=tags,
            )
        )
        await rules.adopting(sm.create_model(model))
        await rules.adopting(sm.create_endpoint_config(config))
        await rules.adopting(sm.create_endpoint(name, name, tags=tags))
        # Scaling to zero, a look also puts the component on an endpoint already in service.
        return self._looked(plan, await self._look(session, plan))

    async def wait_ready(
        self, user_id: str, plan: TargetPlan, progress: Progress, *, timeout_s: float
    ) -> TargetEndpoint:
        """Poll until InService (scale to zero: the endpoint, then its model's component);
        a Failed one is deleted, then reported with SageMaker's FailureReason."""
        region, name = plan.gpu.region, rules.resource_name(plan.deployment_id)
        clock, said = self._retry.clock, ""
        deadline = clock().timestamp() + timeout_s
        while True:
            session = await self.session(user_id, region)
            looked = await self._look(session, plan)
            endpoint = self._looked(plan, looked)
            if endpoint.state == "ready":
                await progress(f"SageMaker endpoint {name} is in service.")
                return endpoint
            if looked.endpoint is None:
                raise NotFound(
                    f"The SageMaker endpoint {name} no longer exists; deploy again.",
                    provider=AWS.name,
                    status=404,
                )
            if looked.failure is not None:
                await self._delete_all(session, plan)
                err = endpoint_failed(name, looked.failure)
                err.message = f"{err.message} It was deleted; nothing is running or billing."
                err.args = (err.message,)
                raise err
            text = (
                f"SageMaker is starting {name} on {plan.gpu.offer_id} in {region} ({looked.phase})…"
            )
            if text != said:
                await progress(text)
                said = text
            if clock().timestamp() >= deadline:
                raise Timeout(
                    f"The SageMaker endpoint {name} was not in service after "
                    f"{timeout_s:g} s. Tear it down, or look again later.",
                    provider=AWS.name,
                )
            await self._retry.sleep(self._poll_s)

    async def _look(self, session: AwsSession, plan: TargetPlan) -> zero.Look:
        """The endpoint (and, scaling to zero, its component) now."""
        if plan.min_replicas == 0:
            return await zero.look(session, plan, rules.resource_tags(plan.deployment_id))
        name = rules.resource_name(plan.deployment_id)
        return zero.Look(await SageMakerClient(session).describe_endpoint(name))

    async def smoke_test(
        self,
        user_id: str,
        endpoint: TargetEndpoint,
        payload: dict[str, Any],
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """One `InvokeEndpoint` (SageMaker Runtime, signed with the session's keys). An
        endpoint scaled to zero is called through its inference component: the request
        wakes it, and the test waits (up to `cold_start_s`, saying so) for it to start."""
        region = endpoint.region or (await self._credential(user_id)).region or "us-east-1"
        session = await self.session(user_id, region)
        answer = await self._invoke(session, endpoint.resource_id, payload, progress)
        try:
            body: object = json.loads(answer.body or b"null")
        except ValueError:
            return {"output": answer.body.decode(errors="replace")[:2000]}
        return body if isinstance(body, dict) else {"output": body}  # pyright: ignore[reportUnknownVariableType]

    async def _invoke(
        self,
        session: AwsSession,
        name: str,
        payload: dict[str, Any],
        progress: Progress | None,
    ) -> Invocation:
        body = json.dumps(payload).encode()
        if await zero.component_of(session, name) is None:
            return await SageMakerRuntimeClient(session).invoke(name, body)
        return await zero.invoke_waking(
            session, name, body, clock=self._retry.clock, sleep=self._retry.sleep,
            poll_s=self._poll_s, budget_s=self._cold_start_s, progress=progress,
        )  # fmt: skip

    async def teardown(self, user_id: str, plan: TargetPlan) -> bool:
        """Delete the endpoint, its config, the model and the worker image in ECR (scale to
        zero: first its alarm, scaling policies, scalable target and inference component);
        True once none of them is left."""
        session = await self.session(user_id, plan.gpu.region)
        await self._delete_all(session, plan)
        sm, name = SageMakerClient(session), rules.resource_name(plan.deployment_id)
        if plan.min_replicas == 0 and await zero.leftovers(session, plan):
            return False
        return await sm.describe_endpoint(name) is None and not await sm.list_models(name)

    async def running_usd_per_hour(
        self, user_id: str, endpoint: TargetEndpoint, plan: TargetPlan
    ) -> float | None:
        """Every instance of a live endpoint bills, busy or idle; none once gone or failed.
        Scaling to zero, the instances are the ones running now (0 at zero copies)."""
        if endpoint.state in ("gone", "failed"):
            return 0.0
        if plan.min_replicas > 0:
            return plan.max_replicas * plan.gpu.usd_per_hour
        session = await self.session(user_id, plan.gpu.region)
        status = await SageMakerClient(session).describe_endpoint(endpoint.resource_id)
        if status is None or status.status == "Failed":
            return 0.0
        instances = status.instances
        return None if instances is None else instances * plan.gpu.usd_per_hour

    async def registry(self, user_id: str, region: str) -> tuple[str, RegistryLogin]:
        """Where a deployment's worker image goes: KripTik's one ECR repository in the
        user's account and `region` (created on first use), as `host/repository`, and a
        push login (ECR's token, valid 12 hours)."""
        session = await self.session(user_id, region)
        me = await session.identity()
        ecr = EcrClient(session)
        repository = await ecr.ensure_repository(_names(session.credential, me.account).repository)
        login = await ecr.login()
        host = login.registry.split("://", 1)[-1].rstrip("/") or repository.uri.split("/")[0]
        return f"{host}/{repository.name}", login

    # ---- internals --------------------------------------------------------------
    async def _credential(self, user_id: str) -> AwsCredential:
        try:
            return parse_aws_credential(await self._tokens(user_id))
        except InvalidAwsCredential as err:
            raise AuthError(
                f"Your AWS credential cannot be used: {err}", provider=AWS.name
            ) from None

    async def session(self, user_id: str, region: str) -> AwsSession:
        """The user's session in `region`, reused while their credential is unchanged."""
        secret = await self._tokens(user_id)
        digest = hashlib.sha256(secret.get_secret_value().encode()).hexdigest()
        key = (user_id, region)
        kept = self._sessions.get(key)
        if kept is not None and kept[0] == digest:
            self._sessions.move_to_end(key)
            return kept[1]
        credential = await self._credential(user_id)
        session = AwsSession(
            credential,
            region=region,
            endpoints=AwsEndpoints.from_settings(self._settings),
            operator=operator_keys(self._settings),
            session_name=f"kriptik-{user_id[:40]}",
            timeout_s=self._settings.http_timeout_s,
            retry=self._retry,
        )
        if kept is not None:
            await kept[1].aclose()
        self._sessions[key] = (digest, session)
        while len(self._sessions) > _SESSIONS_KEPT:
            await self._sessions.popitem(last=False)[1][1].aclose()
        return session

    async def _preflight(self, session: AwsSession, plan: TargetPlan) -> str:
        """The checks before spend; the execution role SageMaker will run the model as."""
        region, kind = plan.gpu.region, plan.gpu.offer_id
        prices = CachedSageMakerPrices(
            AwsPricingClient(session, clock=self._retry.clock),
            self._prices_path,
            clock=self._retry.clock,
        )
        if await prices.price(kind, region) is None:
            raise InvalidRequest(
                f"Amazon SageMaker does not sell {kind} endpoints in {region} "
                "(the AWS Price List has no price for it there). Plan again "
                "for another region or instance type.",
                provider=AWS.name,
            )
        quota = await AwsQuotasClient(session).endpoint_quota(kind)
        if quota is None or not quota.allows_one:
            link = quota.request_url if quota else "https://console.aws.amazon.com/servicequotas"
            raise ProviderPermissionError(
                f"Your AWS account's quota for {kind} endpoint instances in {region} is 0, so "
                f"SageMaker would refuse the endpoint. Request more at {link}, or plan again for "
                "the next instance type that fits.",
                provider=AWS.name,
                status=403,
            )
        if not await session.external_id_enforced():
            raise ProviderPermissionError(
                f"KripTik could assume your AWS role {session.role_arn} without your external "
                "id, so anyone's KripTik account could too. Update the role's trust policy from "
                "the CloudFormation template KripTik generated, then deploy again.",
                provider=AWS.name,
                status=403,
            )
        me = await session.identity()
        names, credential = _names(session.credential, me.account), session.credential
        report = await check_permissions(
            session,
            plan_checks(names, me.account, region, scale_to_zero=plan.min_replicas == 0),
            principal_arn=session.role_arn or principal_of(me.arn) or me.arn,
        )
        if report.checked and report.missing:
            raise ProviderPermissionError(report.note, provider=AWS.name, status=403)
        if isinstance(credential, AwsKeyCredential) and credential.execution_role_arn:
            return credential.execution_role_arn
        return names.execution_role_arn(me.account, me.arn.split(":")[1] or "aws")

    async def _delete_all(self, session: AwsSession, plan: TargetPlan) -> None:
        sm, name = SageMakerClient(session), rules.resource_name(plan.deployment_id)
        if plan.min_replicas == 0:  # what scales it first, so nothing scales it back up
            await zero.delete_all(session, plan)
        await sm.delete_endpoint(name)
        await sm.delete_endpoint_config(name)
        await sm.delete_model(name)
        if plan.image:  # our worker image: it went to KripTik's ECR repository
            repository, _, tag = plan.image.split("/", 1)[1].partition(":")
            ecr = EcrClient(session)
            await ecr.delete_image(repository, tag=tag.split("@")[0])
            try:  # the repository goes too once it holds no image (the next push remakes it)
                if not await ecr.images(repository):
                    await ecr.delete_repository(repository)
            except NotFound:
                pass

    def _looked(self, plan: TargetPlan, looked: zero.Look) -> TargetEndpoint:
        """The endpoint as `looked` shows it; scaling to zero, ready once its model's
        component is in service too."""
        name = rules.resource_name(plan.deployment_id)
        endpoint = self._endpoint(name, plan.gpu.region, looked.endpoint)
        if plan.min_replicas > 0 or endpoint.state != "ready" or looked.ready:
            return endpoint
        return endpoint.model_copy(update={"state": "initializing", "url": None})

    def _endpoint(self, name: str, region: str, status: EndpointStatus | None) -> TargetEndpoint:
        if status is None:
            return TargetEndpoint(
                target="sagemaker", resource_id=name, url=None, state="gone", region=region
            )
        if status.status == "InService":
            url = AwsEndpoints.from_settings(self._settings).url("sagemaker-runtime", region)
            return TargetEndpoint(
                target="sagemaker",
                resource_id=name,
                region=region,
                url=f"{url.rstrip('/')}/endpoints/{name}/invocations",
                state="ready",
            )
        if status.status == "Failed":
            return TargetEndpoint(
                target="sagemaker",
                resource_id=name,
                url=None,
                state="failed",
                region=region,
                message=(status.failure_reason or "")[:400],
            )
        waiting = "initializing" if status.status in _WAITING else "pending"
        return TargetEndpoint(
            target="sagemaker", resource_id=name, url=None, state=waiting, region=region
        )


def _names(credential: AwsCredential, account: str) -> AwsNames:
    """The names KripTik's template gave: from the external id (a role), else the account."""
    if isinstance(credential, AwsKeyCredential):
        return AwsNames.for_external_id(account)
    return AwsNames.for_external_id(credential.external_id)


def _environment(plan: TargetPlan) -> dict[str, str]:
    """TGI's settings (its SageMaker entrypoint reads HF_MODEL_ID, HF_MODEL_REVISION and
    SM_NUM_GPUS), or our worker's."""
    if plan.image is None:
        return {
            "HF_MODEL_ID": plan.repo_id,
            "HF_MODEL_REVISION": plan.revision,
            "SM_NUM_GPUS": str(plan.gpu.gpu_count),
        }
    return {
        "KRIPTIK_REPO_ID": plan.repo_id,
        "KRIPTIK_REVISION": plan.revision,
        "KRIPTIK_TASK": plan.task,
        "KRIPTIK_SERVE": "sagemaker",
    }
