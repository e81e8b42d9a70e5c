"""`kriptik users invite|invites|uninvite|link-github`: an admin decides from the terminal
which GitHub accounts may sign in, and binds an older account to its GitHub id."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from tests.services.kriptik import cli_env, kriptik
from vault import Settings, Vault
from vault.github_accounts import GitHubAccount


def test_invite_list_and_withdraw(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home")
    invited = kriptik("users", "invite", "--github", "OctoCat", env=env)
    assert invited.returncode == 0, invited.stderr
    assert "Invited GitHub login octocat" in invited.stdout
    assert "binds the account's id" in invited.stdout
    assert kriptik("users", "invite", "--github", "583231", env=env).returncode == 0
    listed = kriptik("users", "invites", env=env).stdout
    assert "login octocat  (invited by cli)" in listed and "id 583231" in listed
    assert kriptik("users", "uninvite", "--github", "octocat", env=env).returncode == 0
    assert "login octocat" not in kriptik("users", "invites", env=env).stdout
    again = kriptik("users", "uninvite", "--github", "octocat", env=env)
    assert again.returncode == 1 and "No such invitation" in again.stdout
    bad = kriptik("users", "invite", "--github", "not a login", env=env)
    assert bad.returncode == 2 and "neither a GitHub login nor a numeric" in bad.stderr


def test_link_github_binds_an_existing_user(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = cli_env(home)
    for name in ("github.octocat", "ann"):
        added = kriptik("users", "add", name, env=env, stdin="correct horse battery")
        assert added.returncode == 0, added.stderr
    linked = kriptik("users", "link-github", "github.octocat", "583231", env=env)
    assert linked.returncode == 0 and "github.octocat now signs in as GitHub account 583231" in (
        linked.stdout
    )
    taken = kriptik("users", "link-github", "ann", "583231", env=env)
    assert taken.returncode == 2 and "already belongs" in taken.stderr

    async def check() -> None:
        vault = await Vault.open(Settings(home=home))
        try:
            user = await vault.github.admit(GitHubAccount(id=583231, login="octocat-renamed"))
            assert user.name == "github.octocat"
            assert await vault.github.is_invited(GitHubAccount(id=583231, login="x"))
            assert await vault.users.verify("github.octocat", SecretStr("correct horse battery"))
        finally:
            await vault.close()

    asyncio.run(check())
