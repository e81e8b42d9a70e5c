"""Publishing a generated app to GitHub with the real client against the contract-checked
fake: create or reuse, one commit, no commit on a re-push, 409/422 on an existing name, an
existing empty repo, and the pre-push secret scan that blocks before anything is sent."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from tests.webapp.conftest import Recorder, fake_retry, spec_for
from tools.artifacts.webapp import render_app
from tools.clients.errors import ProviderPermissionError
from tools.clients.github import GitHubClient
from tools.publish import (
    PublishError,
    SecretFound,
    publish_to_github,
)
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.github import NO_REPO_SCOPE_TOKEN
from tools.simulator.runpod import DEFAULT_KEY

KEY = SecretStr(DEFAULT_KEY)
OWNER = "octo-tester"


def _committed(stack: FakeStack, name: str) -> dict[str, bytes]:
    return stack.github.files(OWNER, name)


# ---- GitHub -------------------------------------------------------------------------------
async def test_github_one_private_repo_one_commit_and_no_commit_on_a_repush(
    github: GitHubClient, stack: FakeStack, recorder: Recorder
) -> None:
    spec = spec_for("llm")
    first = await publish_to_github(spec, github=github, secrets=[KEY], recorder=recorder)
    assert (first.full_name, first.private, first.created, first.changed) == (
        f"{OWNER}/demo-llm",
        True,
        True,
        True,
    )
    assert stack.github.repos[(OWNER, "demo-llm")].private
    app = render_app(spec)
    assert _committed(stack, "demo-llm") == app.files  # The whole tree, the README replaced.
    assert not any(DEFAULT_KEY.encode() in raw for raw in app.files.values())
    repo = stack.github.repos[(OWNER, "demo-llm")]
    tree = repo.objects[repo.refs["heads/main"]][1]["tree"]
    assert repo.flatten(tree)["dev-server.mjs"][0] == "100755"
    assert stack.github.commits(OWNER, "demo-llm") == 2  # GitHub's initial commit, and ours.

    again = await publish_to_github(spec, github=github, secrets=[KEY], recorder=recorder)
    assert (again.created, again.changed, again.commit_sha) == (False, False, first.commit_sha)
    assert stack.github.commits(OWNER, "demo-llm") == 2
    assert len(stack.github.calls_to("POST /user/repos")) == 1
    assert recorder.resources == [("github_repo", f"{OWNER}/demo-llm", first.html_url)] * 2

    changed = await publish_to_github(
        spec.model_copy(update={"title": "Qwen Chat 2"}), github=github
    )
    assert changed.changed and stack.github.commits(OWNER, "demo-llm") == 3


@pytest.mark.parametrize("create_fault", [409, None])
async def test_github_existing_name_at_create_is_reused(
    github: GitHubClient, stack: FakeStack, create_fault: int | None
) -> None:
    spec = spec_for("image")
    await publish_to_github(spec, github=github)
    # As if another run created it between our lookup and our create: GitHub answers
    # 422 "name already exists" (or a 409 from a conflicting create).
    stack.github.fail("GET /repos/{owner}/{repo}", 404)
    if create_fault:
        stack.github.fail("POST /user/repos", create_fault)
    result = await publish_to_github(spec, github=github)
    assert (result.created, result.changed) == (False, False)
    assert [c.status for c in stack.github.calls_to("POST /user/repos")] == [
        201,
        create_fault or 422,
    ]
    assert len(stack.github.repos) == 1 and stack.github.commits(OWNER, "demo-image") == 2


async def test_github_existing_empty_repo_gets_a_first_commit(
    github: GitHubClient, stack: FakeStack
) -> None:
    stack.github.empty_repo("demo-generic")
    result = await publish_to_github(spec_for("generic"), github=github)
    assert not result.created and result.changed
    assert stack.github.calls_to("GET /repos/{owner}/{repo}/git/ref/{ref}")[0].status == 409
    assert _committed(stack, "demo-generic") == render_app(spec_for("generic")).files
    assert stack.github.commits(OWNER, "demo-generic") == 2


async def test_github_refuses_to_push_private_code_to_a_public_repo(
    github: GitHubClient, stack: FakeStack
) -> None:
    stack.github.empty_repo("demo-llm", private=False)
    with pytest.raises(PublishError, match="already exists and is public"):
        await publish_to_github(spec_for("llm"), github=github)
    assert stack.github.calls_to("POST /repos/{owner}/{repo}/git/trees") == []


@pytest.mark.parametrize(
    ("description", "secrets", "kind"),
    [
        (f"Key {DEFAULT_KEY}", [], "a RunPod key (rpa_...)"),
        ("token ghp_" + "A1b2" * 9, [], "a GitHub token (ghp_...)"),
        (
            "my vault value: s3cr3t-Value-Only-In-The-Vault",
            [SecretStr("s3cr3t-Value-Only-In-The-Vault")],
            "one of your stored keys",
        ),
    ],
)
async def test_secret_in_the_tree_blocks_the_push_and_names_the_file(
    github: GitHubClient, stack: FakeStack, description: str, secrets: list[SecretStr], kind: str
) -> None:
    with pytest.raises(SecretFound) as caught:
        await publish_to_github(
            spec_for("llm", description=description), github=github, secrets=secrets
        )
    message = str(caught.value)
    assert message.startswith("Push blocked: README.md line 3 contains " + kind)
    assert {f.path for f in caught.value.findings} == {"README.md", "public/index.html"}
    assert description.split()[-1] not in message
    assert stack.github.calls == []  # Nothing left the machine.


async def test_github_token_without_repo_scope(
    stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    weak = GitHubClient(
        http=http,
        base_url=stack.url("github"),
        token=SecretStr(NO_REPO_SCOPE_TOKEN),
        retry=fake_retry(clock),
    )
    with pytest.raises(ProviderPermissionError, match="repo"):
        await publish_to_github(spec_for("llm"), github=weak)
