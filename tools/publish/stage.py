"""The pipeline's "webapp" after-ready stage: once the endpoint answers, generate its app,
push it to GitHub and deploy it, with whichever of the user's keys are stored.

    from tools.publish.stage import register
    register()  # at start-up, before DBOS.launch(); then DeployRequest(after_ready=("webapp",))

```
GitHub key       -> private repo (created or reused), one commit        urls["repo"]
Vercel key       -> Vercel project, else Netlify key -> Netlify site    urls["webapp"]
                    (its id in urls["vercel_project"] / ["netlify_site"], for teardown)
neither host key -> the project is written to <home>/apps/<name> to run locally
```
It runs as one durable step and is idempotent (see `publish_to_github` and
`deploy_to_vercel`). Problems the user can fix come back as a `Failure`, never raised.
"""

from __future__ import annotations

from tools.artifacts.webapp import render_app
from tools.clients.errors import AuthError, BuildFailed, ProviderError
from tools.pipeline import AfterReadyContext, AfterReadyResult, Failure, register_after_ready
from tools.pipeline.services import current
from tools.publish.from_deployment import AppUnavailable, spec_from_deployment
from tools.publish.github import PublishError
from tools.publish.models import WebHost
from tools.publish.scan import SecretFound
from tools.publish.service import DeploymentResources, LivePublishing

__all__ = ["STAGE", "publish_webapp", "register"]

STAGE = "webapp"


async def publish_webapp(ctx: AfterReadyContext) -> AfterReadyResult:
    """Generate, push and deploy the app for the deployment in `ctx` (see the module)."""
    services = current()
    creds = services.vault.credentials
    publishing = LivePublishing(
        services.vault, services.settings, services.http, retry=services.retry
    )
    view = await services.deployments.get(ctx.deployment_id, user_id=ctx.user_id)
    recorder = DeploymentResources(services.deployments, ctx.deployment_id)
    urls: dict[str, str] = {}
    lines: list[str] = []
    try:
        spec = spec_from_deployment(view)
        if await creds.has(ctx.user_id, "github"):
            repo = await publishing.push(
                ctx.user_id, spec, repo_name=spec.project, recorder=recorder
            )
            urls["repo"] = repo.html_url
            lines.append(f"Code: {repo.html_url} ({'private' if repo.private else 'public'})")
        host: WebHost | None = None
        for candidate in ("vercel", "netlify"):
            if host is None and await creds.has(ctx.user_id, candidate):
                host = candidate
        if host is None:
            folder = services.settings.home / "apps" / spec.project
            render_app(spec).write_to(folder)
            lines.append(
                f"No Vercel or Netlify key: the app is in {folder} (run `node dev-server.mjs`)."
            )
        else:
            web = await publishing.deploy(
                ctx.user_id, spec, host=host, name=spec.project, recorder=recorder
            )
            urls["webapp"] = web.url
            check = web.check.summary if web.check else "not checked"
            lines.append(f"App: {web.url} (integration check {check})")
    except (AppUnavailable, SecretFound, PublishError) as err:
        return AfterReadyResult(urls=urls, failure=Failure(reason="provider", message=str(err)))
    except AuthError as err:
        failure = Failure(reason="auth", message=str(err), provider=err.provider.lower())
        return AfterReadyResult(urls=urls, failure=failure)
    except BuildFailed as err:
        return AfterReadyResult(urls=urls, failure=Failure(reason="build", message=str(err)))
    except ProviderError as err:
        return AfterReadyResult(urls=urls, failure=Failure(reason="provider", message=str(err)))
    return AfterReadyResult(urls=urls, message="\n".join(lines))


def register() -> None:
    """Make `DeployRequest(after_ready=("webapp",))` run `publish_webapp`."""
    register_after_ready(STAGE, publish_webapp)
