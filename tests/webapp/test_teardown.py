"""Teardown of the web half, against the contract-checked fakes: what the publish steps
record (the moment each resource exists) is what teardown deletes; the Vercel project and
the Netlify site go with their deployments, deleting twice is harmless, and the GitHub
repo (the user's code) is kept, with the way to delete it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.conftest import new_master_key
from tests.webapp.conftest import ENDPOINT_ID, spec_for
from tools.clients.github import GitHubClient
from tools.clients.netlify import NetlifyClient
from tools.clients.vercel import VercelClient
from tools.publish import (
    deploy_to_netlify,
    deploy_to_vercel,
    publish_to_github,
)
from tools.publish.service import DeploymentResources
from tools.publish.teardown import remove_web_app, web_teardown_plan
from tools.simulator.all import FakeStack
from tools.simulator.netlify import DEFAULT_TOKEN as NETLIFY_TOKEN
from tools.simulator.vercel import DEFAULT_TOKEN as VERCEL_TOKEN
from vault import REDACTOR, Settings, Vault
from vault.deployments import DeploymentCaps, DeploymentStore, DeploymentView

KEY = SecretStr("rpa_" + "T" * 44)


@pytest.fixture
def settings(tmp_path: Path, stack: FakeStack) -> Settings:
    return Settings(home=tmp_path / "home", database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
                    master_key=SecretStr(new_master_key()), **stack.settings_fields())  # fmt: skip


@pytest.fixture
async def vault(settings: Settings) -> AsyncIterator[Vault]:
    opened = await Vault.open(settings)
    yield opened
    await opened.close()
    REDACTOR.clear()


@pytest.fixture
async def record(vault: Vault) -> tuple[str, DeploymentStore, DeploymentView]:
    user = await vault.users.create("ann", SecretStr("correct horse battery staple"))
    await vault.credentials.add(user.id, "vercel", SecretStr(VERCEL_TOKEN))
    await vault.credentials.add(user.id, "netlify", SecretStr(NETLIFY_TOKEN))
    store = DeploymentStore(vault.sessions)
    view = await store.create(user.id, caps=DeploymentCaps(max_live=2, max_workers=3, max_gpus=2),
                              repo_id="Qwen/Qwen2.5-0.5B-Instruct",
                              revision="a" * 40, kind="vllm", name="kriptik-qwen")  # fmt: skip
    view = await store.update(view.id, endpoint_id=ENDPOINT_ID, state="ready")
    return user.id, store, view


async def test_teardown_deletes_the_recorded_host_projects_and_keeps_the_repo(
    stack: FakeStack, vault: Vault, settings: Settings,
    record: tuple[str, DeploymentStore, DeploymentView], github: GitHubClient, vercel: VercelClient, netlify: NetlifyClient,
    http: httpx.AsyncClient,
) -> None:  # fmt: skip
    user_id, store, view = record
    recorder = DeploymentResources(store, view.id)
    spec = spec_for("llm", project="qwen-chat")
    repo = await publish_to_github(spec, github=github, recorder=recorder)
    on_vercel = await deploy_to_vercel(spec, vercel=vercel, runpod_key=KEY, recorder=recorder)
    on_netlify = await deploy_to_netlify(spec, netlify=netlify, runpod_key=KEY, recorder=recorder)
    view = await store.get(view.id, user_id=user_id)
    assert view.urls == {"repo": repo.html_url, "vercel_project": on_vercel.project_id,
                         "netlify_site": on_netlify.project_id}  # fmt: skip
    assert web_teardown_plan(view) == [
        f"deletes the Vercel project {on_vercel.project_id}",
        f"deletes the Netlify site {on_netlify.project_id}",
        f"keeps the GitHub repository {repo.html_url} (your code)",
    ]

    removed, notes = await remove_web_app(view, vault=vault, settings=settings, http=http)
    assert removed == [f"Vercel project {on_vercel.project_id}",
                       f"Netlify site {on_netlify.project_id}"]  # fmt: skip
    assert not stack.vercel.state.projects and not stack.vercel.state.deployments
    assert not stack.netlify.state.sites and not stack.netlify.state.deploys
    assert list(stack.github.repos) == [("octo-tester", "qwen-chat")]
    assert notes == [
        f"Kept your GitHub repository {repo.html_url}: it is your code, so teardown never "
        f"deletes it. To delete it, use Settings > Delete this repository at "
        f"{repo.html_url}/settings, or run `gh repo delete octo-tester/qwen-chat`."
    ]

    # Again (a re-run teardown): nothing left to delete, and no error.
    again, _ = await remove_web_app(view, vault=vault, settings=settings, http=http)
    assert again == []
    assert [c.status for c in stack.vercel.calls_to("DELETE /v9/projects/{id}")] == [204, 404]
    assert [c.status for c in stack.netlify.calls_to("DELETE /api/v1/sites/{site_id}")] == [
        204, 404,
    ]  # fmt: skip


async def test_a_host_key_no_longer_stored_leaves_a_note_not_a_failure(
    stack: FakeStack, vault: Vault, settings: Settings,
    record: tuple[str, DeploymentStore, DeploymentView], http: httpx.AsyncClient,
) -> None:  # fmt: skip
    user_id, store, view = record
    await vault.credentials.remove(user_id, "netlify")
    view = await store.update(view.id, urls={"netlify_site": "site-123"})
    removed, notes = await remove_web_app(view, vault=vault, settings=settings, http=http)
    assert removed == [] and not stack.netlify.calls_to("DELETE /api/v1/sites/{site_id}")
    assert notes == [
        "The Netlify site site-123 is still up: your Netlify key is no longer stored. Add it "
        "(`kriptik keys add netlify`) and tear down again, or delete it in Netlify's dashboard."
    ]
