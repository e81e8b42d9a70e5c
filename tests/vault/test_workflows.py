"""Stored ComfyUI workflows, on SQLite and PostgreSQL: one row per user and content, only
the owner reads it, and what the user supplies later is kept beside it."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from vault import Vault
from vault.workflows import WorkflowNotFound

API = '{"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.safetensors"}}}'


async def _user(vault: Vault, name: str) -> str:
    return (await vault.users.create(name, SecretStr("correct horse battery"))).id


async def test_the_same_workflow_twice_is_one_row_and_only_its_owner_reads_it(vault: Vault) -> None:
    ann, bob = await _user(vault, "ann"), await _user(vault, "bob")
    first = await vault.workflows.save(
        ann, name="sdxl", digest="d" * 64, source_format="ui", api_json=API
    )
    again = await vault.workflows.save(
        ann, name="other-name", digest="d" * 64, source_format="api", api_json=API
    )
    assert again.id == first.id and again.name == "sdxl"
    assert (await vault.workflows.get(ann, first.id)).api_json == API
    with pytest.raises(WorkflowNotFound, match="attach it again"):
        await vault.workflows.get(bob, first.id)
    bobs = await vault.workflows.save(
        bob, name="sdxl", digest="d" * 64, source_format="ui", api_json=API
    )
    assert bobs.id != first.id


async def test_what_the_user_supplies_is_kept_and_survives_a_reopen(vault: Vault) -> None:
    ann = await _user(vault, "ann")
    saved = await vault.workflows.save(
        ann, name="flux", digest="e" * 64, source_format="api", api_json=API
    )
    await vault.workflows.supply(ann, saved.id, "models", "a.safetensors", "o/r/a.safetensors")
    await vault.workflows.supply(ann, saved.id, "versions", "comfyui-kjnodes", "1.1.0")
    got = await vault.workflows.get(ann, saved.id)
    assert got.supplied == {
        "models": {"a.safetensors": "o/r/a.safetensors"},
        "versions": {"comfyui-kjnodes": "1.1.0"},
    }
    with pytest.raises(WorkflowNotFound):
        await vault.workflows.supply("someone-else", saved.id, "models", "a", "b")
