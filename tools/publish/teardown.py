"""Teardown of the web half: delete the deployment's Vercel project or Netlify site (and so
every deployment of it and its copy of the RunPod key), and keep its GitHub repo, which is
the user's code, saying how to delete it.

```
urls["vercel_project"]  the project id    DELETE /v9/projects/{id}   (gone already: fine)
urls["netlify_site"]    the site id       DELETE /sites/{site_id}
urls["repo"]            the repo's URL    kept; the report says how to delete it
```
The publish steps record these ids the moment each resource exists (`resource_urls`), so
a crash after a create still leaves a record. Runs as one step of the pipeline's teardown
workflow, after the user approved the teardown; deleting twice is harmless. The pipeline
gets it as its `WebTeardown` (`WebAppTeardown`, supplied by the composition root): the GPU
pipeline never imports the publishers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import httpx

from tools.clients._http import Retry
from tools.clients.netlify import NetlifyClient
from tools.clients.vercel import VercelClient
from tools.connect import Connections, ReconnectNeeded
from tools.publish.models import ResourceKind
from vault import CredentialNotFound, Settings, Vault
from vault.deployments import DeploymentView

__all__ = [
    "URL_KEYS",
    "WebAppTeardown",
    "kept_repo_note",
    "remove_web_app",
    "resource_urls",
    "web_teardown_plan",
]

# Where each published resource goes in the deployment record's `urls`.
URL_KEYS: Final[dict[ResourceKind, str]] = {
    "github_repo": "repo", "vercel_project": "vercel_project", "netlify_site": "netlify_site",
}  # fmt: skip
_HOSTS: Final = (("vercel_project", "vercel", "Vercel project"),
                 ("netlify_site", "netlify", "Netlify site"))  # fmt: skip


def resource_urls(kind: ResourceKind, resource_id: str, url: str | None) -> dict[str, str]:
    """What to add to a deployment's `urls` for a resource a publish step created: the
    repo's web URL, the host project's id (teardown deletes by it); nothing for the
    per-deploy ids (deleting the project deletes them)."""
    key = URL_KEYS.get(kind)
    if key is None:
        return {}
    return {key: url or resource_id} if kind == "github_repo" else {key: resource_id}


def kept_repo_note(repo_url: str) -> str:
    """The teardown's word on the repo: kept, and how to delete it."""
    full_name = "/".join(repo_url.rstrip("/").split("/")[-2:])
    return (
        f"Kept your GitHub repository {repo_url}: it is your code, so teardown never deletes "
        f"it. To delete it, use Settings > Delete this repository at {repo_url}/settings, or "
        f"run `gh repo delete {full_name}`."
    )


def _still_up(label: str, resource: str, provider: str, err: Exception) -> str:
    """Why a host's resource stays up: its credential is gone, or needs reconnecting."""
    name = provider.title()
    if isinstance(err, ReconnectNeeded):
        return (
            f"The {label} {resource} is still up: your {name} connection no longer works. "
            f"Connect {name} again and tear down again, or delete it in {name}'s dashboard."
        )
    return (
        f"The {label} {resource} is still up: your {name} key is no longer stored. Add it "
        f"(`kriptik keys add {provider}`) and tear down again, or delete it in {name}'s "
        "dashboard."
    )


def web_teardown_plan(view: DeploymentView) -> list[str]:
    """For the teardown's approval card: what the web half deletes and keeps."""
    lines = [
        f"deletes the {label} {view.urls[key]}"
        + (f" (the app at {view.urls['webapp']})" if view.urls.get("webapp") else "")
        for key, _, label in _HOSTS
        if view.urls.get(key)
    ]
    if view.urls.get("repo"):
        lines.append(f"keeps the GitHub repository {view.urls['repo']} (your code)")
    return lines


async def remove_web_app(
    view: DeploymentView,
    *,
    vault: Vault,
    settings: Settings,
    http: httpx.AsyncClient,
    retry: Retry | None = None,
    connections: Connections | None = None,
) -> tuple[list[str], list[str]]:
    """Delete the recorded Vercel project and Netlify site; returns (removed, notes). The
    host's token comes through `connections` (refreshed if it is about to expire).

    Raises:
        ProviderError: The host refused (a revoked key: AuthError); teardown reports it.
    """
    tokens = connections or Connections(vault, settings, http, retry=retry)
    removed: list[str] = []
    notes: list[str] = []
    for key, provider, label in _HOSTS:
        resource = view.urls.get(key)
        if not resource:
            continue
        try:
            token = await tokens.token(view.user_id, provider)
        except (CredentialNotFound, ReconnectNeeded) as err:
            notes.append(_still_up(label, str(resource), provider, err))
            continue
        timeout = settings.http_timeout_s
        if provider == "vercel":
            vercel = VercelClient(http=http, base_url=settings.vercel_base_url, token=token,
                                  timeout_s=timeout, retry=retry)  # fmt: skip
            gone = await vercel.delete_project(str(resource))
        else:
            netlify = NetlifyClient(http=http, base_url=settings.netlify_base_url, token=token,
                                    timeout_s=timeout, retry=retry)  # fmt: skip
            gone = await netlify.delete_site(str(resource))
        if gone:
            removed.append(f"{label} {resource}")
    if view.urls.get("repo"):
        notes.append(kept_repo_note(str(view.urls["repo"])))
    return removed, notes


@dataclass(frozen=True, kw_only=True)
class WebAppTeardown:
    """The pipeline's `WebTeardown` (`tools.pipeline.services`): `remove_web_app` over the
    process's vault, settings, HTTP client and connections."""

    vault: Vault
    settings: Settings
    http: httpx.AsyncClient
    retry: Retry | None = None
    connections: Connections | None = None  # the root's; else one of its own per call

    async def remove(self, view: DeploymentView) -> tuple[list[str], list[str]]:
        return await remove_web_app(
            view, vault=self.vault, settings=self.settings, http=self.http, retry=self.retry,
            connections=self.connections,
        )  # fmt: skip
