"""Agent tools that turn a live endpoint into a published app: push the generated web app
to GitHub, deploy it to Vercel or Netlify. Each publishes, so each is registered with
`requires_approval=True`, and declares its approval card on itself (`@approval_card`):
exactly what will be created, made from the coerced arguments. The approved card is what runs:
the repo name and visibility, the project or site name and the server-side variable names
the user saw (`tools.approval.bound`); if they would differ, nothing is published and the
agent asks again.

The tools name the app by its endpoint: the generated app (kind, model, example input)
follows from the user's deployment that owns it (`tools.publish.from_deployment`). Each
repo, project and site goes into that deployment's record the moment it exists, so
teardown finds it. Keys stay in the vault: `deps.publishing` reads them per call and
never returns one. A deploy's result carries the closing summary (every URL, the idle
cost, the teardown command), written from the record rather than by the model.
"""

from __future__ import annotations

from typing import Any, Final, Literal, Protocol, runtime_checkable

from pydantic import Field, SecretStr, ValidationError, field_serializer
from pydantic_ai import ModelRetry, RunContext, ToolFailed

from tools.approval import Approvals, PlanChanged, approval_card, bound
from tools.artifacts.webapp import AppSpec, check_project_name
from tools.cards import Card, unknown_card
from tools.deps import ProgressSink
from tools.publish import PublishError, RepoResult, SecretFound, WebDeployResult, WebHost
from tools.publish.models import AppCheck, AppPublishing, ResourceKind
from tools.publish.teardown import resource_urls
from tools.publish.vercel import env_for

__all__ = [
    "AppPublishing",
    "AppToolDeps",
    "PublishedApp",
    "PushCard",
    "PushedRepo",
    "WebCard",
    "deploy_netlify",
    "deploy_vercel",
    "netlify_card",
    "push_card",
    "push_to_github",
    "vercel_card",
]


@runtime_checkable
class _HasPublishing(Protocol):
    """What a web card reads of the deps: whose app, and where apps come from."""

    @property
    def user_id(self) -> str: ...

    @property
    def publishing(self) -> AppPublishing: ...


class AppToolDeps(Protocol):
    """What these tools use of the agent's `Deps`."""

    @property
    def user_id(self) -> str: ...

    @property
    def publishing(self) -> AppPublishing: ...

    @property
    def progress(self) -> ProgressSink: ...

    @property
    def approvals(self) -> Approvals: ...


# What the model reads of a push and of a web deploy: what it tells the user or decides
# from. The rest (the commit and the host's ids, the files' digest, the variable names, each
# check step) is in the deployment's record, on the approved card or in the summary, and the
# model passes none of it back; the objects keep it all (`exclude` only shapes the dump).
class PushedRepo(RepoResult):
    """A pushed repo: `changed` is False when the tree was already there (no new commit)."""

    full_name: str = Field(exclude=True)  # html_url names it
    commit_sha: str = Field(exclude=True)

    @classmethod
    def of(cls, repo: RepoResult) -> PushedRepo:
        return cls.model_validate(repo.model_dump())


class PublishedApp(WebDeployResult):
    """A deployed web app, and the closing summary that the chat shows the user as it is
    (`agent.events.AppLive`): the model does not read it, so it can neither retype a price
    nor pay to repeat every URL."""

    host: WebHost = Field(exclude=True)  # the tool's own name says it
    project_id: str = Field(exclude=True)
    deployment_id: str = Field(exclude=True)
    tree_digest: str = Field(exclude=True)
    env_vars: tuple[str, ...] = Field(exclude=True)
    env_protection: Literal["encrypted", "secret", "plain"] = Field(exclude=True)
    summary: str = Field(exclude=True)

    @field_serializer("check")
    def _verdict(self, check: AppCheck | None) -> dict[str, object] | None:
        # Pass, or where it failed and why: what the model needs to say what to try next.
        if check is None or check.passed:
            return None if check is None else {"passed": True}
        return {"passed": False, "why": check.summary}

    @classmethod
    def of(cls, web: WebDeployResult, summary: str) -> PublishedApp:
        return cls.model_validate({**dict(web), "summary": summary})


class _ChatRecorder:
    """Progress lines go to the chat; each resource into the deployment's record."""

    def __init__(self, ctx: RunContext[AppToolDeps], endpoint_id: str) -> None:
        self._deps, self._endpoint, self._call = ctx.deps, endpoint_id, ctx.tool_call_id

    async def record_resource(self, kind: ResourceKind, resource_id: str, url: str | None) -> None:
        if urls := resource_urls(kind, resource_id, url):
            await self._deps.publishing.record(self._deps.user_id, self._endpoint, urls)

    async def progress(self, message: str) -> None:
        await self._deps.progress(message, tool_call_id=self._call)


_JOBS = (
    "each request from the app runs a job on your RunPod endpoint, billed by RunPod per "
    "second of GPU time"
)
# The same for the other targets, by the key variable their app gets (`ENV_NAMES`).
_CALLS: Final = {
    "HF_TOKEN": "each request from the app goes to your Hugging Face endpoint, billed by "
    "Hugging Face while a replica runs",
    "GCP_SERVICE_ACCOUNT_JSON": "each request from the app goes to your Cloud Run service, "
    "billed by Google while an instance runs",
    "SAGEMAKER_ACCESS_KEY_ID": "each request from the app goes to your SageMaker endpoint, "
    "billed by AWS while an instance runs",
}


class PushCard(Card):
    """A push's card: the repo it names, and whether it is private."""

    endpoint_id: str
    repo_name: str
    private: bool


class WebCard(Card):
    """A web deploy's card: the host, the project or site, the variables it sets."""

    host: WebHost
    endpoint_id: str
    name: str
    env_names: tuple[str, ...]


# What a RunPod endpoint's app gets server-side (`tools.publish.vercel.env_for`): the user's
# key and the endpoint id; another target's app gets its own pair (`_env_names`). The
# deploy checks that it would set exactly what the card showed.
_ENV_NAMES: Final = ("RUNPOD_API_KEY", "RUNPOD_ENDPOINT_ID")


async def push_card(_deps: object, args: dict[str, Any]) -> Card:
    """The card for a `push_to_github` call."""
    name, private, endpoint = args["repo_name"], args["private"], str(args["endpoint_id"])
    summary = f"Push the web app to GitHub as {name}"
    try:
        check_project_name(name)
    except ValueError as err:
        return unknown_card("push_to_github", args, summary, err)
    if not isinstance(private, bool):  # coerced args only: never guess a visibility
        return unknown_card("push_to_github", args, summary, "private must be true or false")
    visibility = "private" if private else "PUBLIC"
    return PushCard(
        tool="push_to_github", provider="GitHub", args=args, summary=f"{summary} ({visibility})",
        creates=[f"a {visibility} GitHub repository {name} (reused if it exists)",
                 "one commit holding the app, its README and .env.example (no secrets)"],
        price="free (GitHub repositories cost nothing)", usd_per_hour=0.0,
        facts={"repository": name, "visibility": visibility.lower(), "endpoint": endpoint},
        endpoint_id=endpoint, repo_name=name, private=private,
    )  # fmt: skip


async def _env_names(deps: object, endpoint_id: str) -> tuple[str, ...]:
    """The server-side variables the app of this endpoint gets: its target's key and where
    to call it (`env_for`); RunPod's where the endpoint's app cannot be read here (the
    deploy then names what it would set, and stops if that differs from the card)."""
    if isinstance(deps, _HasPublishing):
        try:
            spec = await deps.publishing.app_for(deps.user_id, endpoint_id)
        except (ValueError, ValidationError):
            return _ENV_NAMES
        return tuple(env_for(spec, SecretStr(""), None))
    return _ENV_NAMES


async def _web_card(host: WebHost, deps: object, args: dict[str, Any]) -> Card:
    tool, endpoint = f"deploy_{host}", str(args["endpoint_id"])
    name = str(args["project_name" if host == "vercel" else "site_name"])
    label, domain, plan = (
        ("Vercel project", "vercel.app", "Vercel's Hobby plan") if host == "vercel"
        else ("Netlify site", "netlify.app", "Netlify's Starter plan")
    )  # fmt: skip
    summary = f"Deploy the web app for endpoint {endpoint} to https://{name}.{domain}"
    try:
        check_project_name(name)
    except ValueError as err:
        return unknown_card(tool, args, summary, err)
    names = await _env_names(deps, endpoint)
    key, where = names[0], names[1]
    return WebCard(
        tool=tool, provider=host.capitalize(), args=args, summary=summary,
        creates=[f"a {label} {name}, public at https://{name}.{domain}",
                 f"server-side variables {key} (your key, kept secret) and {where}",
                 "one test request through the live app (one short GPU request)"],
        price=f"free on {plan}; {_CALLS.get(key, _JOBS)}", usd_per_hour=0.0,
        facts={label: name, "URL": f"https://{name}.{domain}", "endpoint": endpoint,
               "server-side variables": ", ".join(names)},
        host=host, endpoint_id=endpoint, name=name, env_names=names,
    )  # fmt: skip


async def vercel_card(deps: object, args: dict[str, Any]) -> Card:
    """The card for a `deploy_vercel` call."""
    return await _web_card("vercel", deps, args)


async def netlify_card(deps: object, args: dict[str, Any]) -> Card:
    """The card for a `deploy_netlify` call."""
    return await _web_card("netlify", deps, args)


async def _spec(ctx: RunContext[AppToolDeps], endpoint_id: str, name: str) -> AppSpec:
    try:
        check_project_name(name)
        spec = await ctx.deps.publishing.app_for(ctx.deps.user_id, endpoint_id)
        return spec.model_copy(update={"project": name})
    except (ValueError, ValidationError) as err:  # AppUnavailable is a ValueError too.
        raise ModelRetry(str(err)) from None


@approval_card(push_card)
async def push_to_github(
    ctx: RunContext[AppToolDeps], endpoint_id: str, repo_name: str, private: bool = True
) -> PushedRepo:
    """Push the endpoint's generated web app to GitHub, as one commit.

    Args:
        endpoint_id: Endpoint the app calls.
        repo_name: Lowercase letters, digits, single hyphens.
        private: Private repo (recommended).

    Needs approval. Creates the repository under the user's account, or reuses it; pushing
    the same app again makes no new commit. A scan blocks the push if any file holds a
    secret.
    """
    # The arguments made the approval card; what runs is the card: its repo name and
    # visibility, never a second reading of the arguments.
    card = await bound(ctx, PushCard, push_card)
    spec = await _spec(ctx, card.endpoint_id, card.repo_name)
    recorder = _ChatRecorder(ctx, card.endpoint_id)
    try:
        repo = await ctx.deps.publishing.push(
            ctx.deps.user_id, spec, repo_name=card.repo_name, private=card.private,
            recorder=recorder,
        )  # fmt: skip
    except (SecretFound, PublishError) as err:
        raise ToolFailed(str(err)) from None
    return PushedRepo.of(repo)


async def _deploy(ctx: RunContext[AppToolDeps], host: WebHost) -> PublishedApp:
    card = await bound(ctx, WebCard, vercel_card if host == "vercel" else netlify_card)
    spec = await _spec(ctx, card.endpoint_id, card.name)
    # The variables the deploy will set, named before anything is sent: only those the
    # card showed may be set (their values never appear anywhere).
    names = tuple(env_for(spec, SecretStr(""), None))
    if names != card.env_names:
        was, now = ", ".join(card.env_names), ", ".join(names)
        raise PlanChanged(f"deploy_{host}", [f"server-side variables: was {was}, now {now}"])
    publishing, user = ctx.deps.publishing, ctx.deps.user_id
    try:
        web = await publishing.deploy(
            user,
            spec,
            host=card.host,
            name=card.name,
            recorder=_ChatRecorder(ctx, card.endpoint_id),
        )
    except SecretFound as err:
        raise ToolFailed(str(err)) from None
    await publishing.record(user, card.endpoint_id, {"webapp": web.url})
    summary = await publishing.summary(user, card.endpoint_id, web=web)
    return PublishedApp.of(web, summary.markdown())


@approval_card(vercel_card)
async def deploy_vercel(
    ctx: RunContext[AppToolDeps], endpoint_id: str, project_name: str
) -> PublishedApp:
    """Deploy the endpoint's generated web app to Vercel, then test it.

    Args:
        endpoint_id: Endpoint the app calls.
        project_name: Live at <project_name>.vercel.app.

    Needs approval. Sets RUNPOD_API_KEY as an encrypted Vercel variable (never in a file),
    uploads the app, waits until it is live and calls its api/infer once; the result says
    pass or fail.
    """
    return await _deploy(ctx, "vercel")  # the card holds endpoint_id and project_name


@approval_card(netlify_card)
async def deploy_netlify(
    ctx: RunContext[AppToolDeps], endpoint_id: str, site_name: str
) -> PublishedApp:
    """Deploy the endpoint's generated web app to Netlify, then test it.

    Args:
        endpoint_id: Endpoint the app calls.
        site_name: Live at <site_name>.netlify.app.

    Needs approval. Sets RUNPOD_API_KEY as a secret Netlify variable (never in a file),
    uploads the app and its function, waits until it is live and calls its api/infer once.
    """
    return await _deploy(ctx, "netlify")  # the card holds endpoint_id and site_name
