"""GitHub login: map a GitHub account to a KripTik user (created on first login)."""

from __future__ import annotations

import re
import secrets

import chainlit as cl
from pydantic import SecretStr

from vault import UserError, Vault


async def github_user(vault: Vault, github: cl.User) -> cl.User:
    login = re.sub(r"[^a-z0-9_.-]", "-", github.identifier.lower())[:56]
    name = f"github.{login}"
    user = await vault.users.get(name)
    if user is None:
        try:
            # An unguessable password nobody knows: this account logs in through GitHub only.
            user = await vault.users.create(name, SecretStr(secrets.token_urlsafe(32)))
        except UserError:  # created by a concurrent first login
            user = await vault.users.get(name)
    if user is None:
        raise UserError(f"could not create the user for GitHub account {github.identifier}")
    return cl.User(
        identifier=user.name, metadata={"id": user.id, "role": user.role, "provider": "github"}
    )
