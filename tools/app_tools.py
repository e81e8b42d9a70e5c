"""Agent tools that turn a live endpoint into a published app: push the generated web app
to GitHub, deploy it to Vercel or Netlify. Each publishes, so each is registered with
`requires_approval=True`; `APP_APPROVAL_PLANS` says for the approval card exactly what will
be created and what it costs, from the arguments.

The tools name the app by its endpoint: the generated app (kind, model, example input)
follows from the user's deployment that owns it (`tools.publish.from_deployment`). Each
repo, project and site goes into that deployment's record the moment it exists, so
teardown finds it. Keys stay in the vault: `deps.publishing` reads them per call and
never returns one. A deploy's result carries the closing summary (every URL, the idle
cost, the teardown command), written from the record rather than by the model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Protocol

from pydantic import ValidationError
from pydantic_ai import ModelRetry, RunContext, ToolFailed

from tools.artifacts.webapp import AppSpec, check_project_name
from tools.deps import ProgressSink
from tools.pipeline_stubs import ApprovalPlan
from tools.publish import PublishError, RepoResult, SecretFound, WebDeployResult, WebHost
from tools.publish.models import AppPublishing, ResourceKind
from tools.publish.teardown import resource_urls

__all__ = [
    "APP_APPROVAL_PLANS",
    "AppPublishing",
    "AppToolDeps",
    "PublishedApp",
    "deploy_netlify",
    "deploy_vercel",
    "push_to_github",
]


class AppToolDeps(Protocol):
    """What these tools use of the agent's `Deps`."""

    @property
    def user_id(self) -> str: ...

    @property
    def publishing(self) -> AppPublishing: ...

    @property
    def progress(self) -> ProgressSink: ...


class PublishedApp(WebDeployResult):
    """A deployed web app, and the closing summary to show the user as it is."""

    summary: str


class _ChatRecorder:
    """Progress lines go to the chat; each resource into the deployment's record."""

    def __init__(self, ctx: RunContext[AppToolDeps], endpoint_id: str) -> None:
        self._deps, self._endpoint, self._call = ctx.deps, endpoint_id, ctx.tool_call_id

    async def record_resource(self, kind: ResourceKind, resource_id: str, url: str | None) -> None:
        if urls := resource_urls(kind, resource_id, url):
            await self._deps.publishing.record(self._deps.user_id, self._endpoint, urls)

    async def progress(self, message: str) -> None:
        await self._deps.progress(message, tool_call_id=self._call)


async def _spec(ctx: RunContext[AppToolDeps], endpoint_id: str, name: str) -> AppSpec:
    try:
        check_project_name(name)
        spec = await ctx.deps.publishing.app_for(ctx.deps.user_id, endpoint_id)
        return spec.model_copy(update={"project": name})
    except (ValueError, ValidationError) as err:  # AppUnavailable is a ValueError too.
        raise ModelRetry(str(err)) from None


async def push_to_github(
    ctx: RunContext[AppToolDeps], endpoint_id: str, repo_name: str, private: bool = True
) -> RepoResult:
    """Push the generated web app for an endpoint to GitHub as one commit. Needs approval.

    Creates the repository under the user's account, or reuses it; pushing the same app
    again makes no new commit. A scan blocks the push if any file holds a secret.

    Args:
        endpoint_id: The RunPod endpoint the app calls (from create_runpod_endpoint).
        repo_name: Repository name: lowercase letters, digits and single hyphens.
        private: Keep the repository private (recommended).
    """
    spec = await _spec(ctx, endpoint_id, repo_name)
    recorder = _ChatRecorder(ctx, endpoint_id)
    try:
        return await ctx.deps.publishing.push(
            ctx.deps.user_id, spec, repo_name=repo_name, private=private, recorder=recorder
        )
    except (SecretFound, PublishError) as err:
        raise ToolFailed(str(err)) from None


async def _deploy(
    ctx: RunContext[AppToolDeps], host: WebHost, endpoint_id: str, name: str
) -> PublishedApp:
    spec = await _spec(ctx, endpoint_id, name)
    publishing, user = ctx.deps.publishing, ctx.deps.user_id
    try:
        web = await publishing.deploy(
            user, spec, host=host, name=name, recorder=_ChatRecorder(ctx, endpoint_id)
        )
    except SecretFound as err:
        raise ToolFailed(str(err)) from None
    await publishing.record(user, endpoint_id, {"webapp": web.url})
    summary = await publishing.summary(user, endpoint_id, web=web)
    return PublishedApp.model_validate({**web.model_dump(), "summary": summary.markdown()})


async def deploy_vercel(
    ctx: RunContext[AppToolDeps], endpoint_id: str, project_name: str
) -> PublishedApp:
    """Deploy the generated web app for an endpoint to Vercel, then test it. Needs approval.

    Sets RUNPOD_API_KEY as an encrypted Vercel variable (never in a file), uploads the app,
    waits until it is live and calls its api/infer once; the result says pass or fail.

    Args:
        endpoint_id: The RunPod endpoint the app calls (from create_runpod_endpoint).
        project_name: Vercel project name; the app goes live at <project_name>.vercel.app.
    """
    return await _deploy(ctx, "vercel", endpoint_id, project_name)


async def deploy_netlify(
    ctx: RunContext[AppToolDeps], endpoint_id: str, site_name: str
) -> PublishedApp:
    """Deploy the generated web app for an endpoint to Netlify, then test it. Needs approval.

    Sets RUNPOD_API_KEY as a secret Netlify variable (never in a file), uploads the app and
    its function, waits until it is live and calls its api/infer once.

    Args:
        endpoint_id: The RunPod endpoint the app calls (from create_runpod_endpoint).
        site_name: Netlify site name; the app goes live at <site_name>.netlify.app.
    """
    return await _deploy(ctx, "netlify", endpoint_id, site_name)


_JOBS = (
    "each request from the app runs a job on your RunPod endpoint, billed by RunPod per "
    "second of GPU time"
)


async def _push_plan(_deps: object, args: Mapping[str, Any]) -> ApprovalPlan:
    name = args.get("repo_name")
    visibility = "private" if args.get("private", True) is not False else "PUBLIC"
    return ApprovalPlan(
        summary=f"Push the web app to GitHub as {name} ({visibility})",
        creates=[f"a {visibility} GitHub repository {name} (reused if it exists)",
                 "one commit holding the app, its README and .env.example (no secrets)"],
        price="free (GitHub repositories cost nothing)", usd_per_hour=0.0,
    )  # fmt: skip


async def _host_plan(host: WebHost, args: Mapping[str, Any]) -> ApprovalPlan:
    name = args.get("project_name" if host == "vercel" else "site_name")
    label, domain, plan = (
        ("Vercel project", "vercel.app", "Vercel's Hobby plan") if host == "vercel"
        else ("Netlify site", "netlify.app", "Netlify's Starter plan")
    )  # fmt: skip
    return ApprovalPlan(
        summary=f"Deploy the web app for endpoint {args.get('endpoint_id')} to https://{name}.{domain}",
        creates=[f"a {label} {name}, public at https://{name}.{domain}",
                 "server-side variables RUNPOD_API_KEY (your key, kept secret) and "
                 "RUNPOD_ENDPOINT_ID",
                 "one test request through the live app (one short GPU job)"],
        price=f"free on {plan}; {_JOBS}", usd_per_hour=0.0,
    )  # fmt: skip


PlanFn = Callable[[Any, Mapping[str, Any]], Awaitable[ApprovalPlan]]

APP_APPROVAL_PLANS: Final[dict[str, PlanFn]] = {
    "push_to_github": _push_plan,
    "deploy_vercel": lambda _d, a: _host_plan("vercel", a),
    "deploy_netlify": lambda _d, a: _host_plan("netlify", a),
}
