"""A Cloud Run deploy asked for in the chat by a user with no Google Cloud key: the card
cannot be priced, so the REAL agent's simulated assistant asks for the service-account JSON
through the secure question (the onboarding card: console links and the roles to grant),
the key is checked locally and stored, and the deploy goes on to its approval card. The
pasted key file appears in no LLM request, audit row, history or transcript."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Final

import pytest
from pydantic_ai.messages import ModelMessagesTypeAdapter

from agent.events import Approval, Question
from tests.pipeline.target_services import targets_for
from tests.simulator.conftest import Turn, World
from tools.onboarding import GCP_ROLES
from tools.pipeline.services import StaticRegistry
from tools.simulator.images import SimulatedImages, SimulatedRegistry
from tools.simulator.server import ServedApp
from vault.redact import encoded_forms

QWEN: Final = "Qwen/Qwen2.5-0.5B-Instruct"
ASK: Final = f"Deploy {QWEN} on Google Cloud Run"
CHAT: Final = "POST /api/v1/chat/completions"


@pytest.fixture
async def on_cloudrun(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """`world` with the targets, the simulated image builder and registry; no gcp key."""
    registry = SimulatedRegistry()
    served = ServedApp(registry)
    pipe = await world.pipeline.ready()
    pipe.services = dataclasses.replace(
        pipe.services,
        targets=targets_for(pipe.services, monkeypatch),
        images=SimulatedImages(registry),
        registry=StaticRegistry(host=f"127.0.0.1:{served.port}", space="demo"),
    )
    try:
        yield world
    finally:
        served.stop()


def _as_pasted(key_file: str) -> str:
    """The key file as a password field holds it after a paste: its line breaks dropped (the
    private key's own breaks are JSON escapes, so it stays valid JSON)."""
    pretty = json.dumps(json.loads(key_file), indent=2)
    return pretty.replace("\n", "")


def _planted_forms(key_file: str) -> list[str]:
    """The whole file, and each line of its private key, in every encoding the redactor knows."""
    lines = json.loads(key_file)["private_key"].splitlines()[1:-1]
    return sorted({f for part in (key_file, *lines) for f in encoded_forms(part)})


async def test_a_cloud_run_deploy_asks_for_the_gcp_key_then_reaches_its_card(
    on_cloudrun: World,
) -> None:
    world, fakes = on_cloudrun, on_cloudrun.demo.providers
    pasted = _as_pasted(fakes.google_oauth.state.new_service_account(name="pasted-deployer"))
    turn = await world.turn(ASK, secrets=[pasted], approvals=[True])

    # The deploy's key, then (the web app in front of it) GitHub's, which is left unanswered.
    question, *web = turn.of(Question)
    assert [q.provider for q in web] == ["github"], turn.transcript()
    assert (question.provider, question.title) == ("gcp", "Google Cloud"), turn.transcript()
    assert question.env_name == "GOOGLE_APPLICATION_CREDENTIALS_JSON"
    assert tuple(question.scopes) == GCP_ROLES
    assert question.keys_url == "https://console.cloud.google.com/iam-admin/serviceaccounts"
    assert "Keys > Add key" in question.instructions and "JSON" in question.instructions
    # Refused unpriced (no key), the key asked and stored, then planned in full and approved.
    assert turn.tools[turn.tools.index(("request_api_key", "success")) - 1] == (
        "create_runpod_endpoint", "denied",
    )  # fmt: skip
    assert ("create_runpod_endpoint", "success") in turn.tools, turn.transcript()
    [card] = turn.of(Approval)
    assert card.provider == "Google Cloud Run" and "$" in card.price
    assert len(fakes.cloudrun.services) == 1 and turn.final.status == "done"
    stored = await world.vault.credentials.describe(world.user_id, "gcp")
    assert stored.validation_ok and stored.identity == (
        "pasted-deployer@kriptik-demo.iam.gserviceaccount.com"
    )
    await _assert_nowhere(world, turn, _planted_forms(pasted))

    down = await world.turn("tear it down", approvals=[True])
    assert ("teardown", "success") in down.tools, down.transcript()
    assert fakes.cloudrun.services == {}


async def _assert_nowhere(world: World, turn: Turn, forms: list[str]) -> None:
    assert len(forms) > 10  # the file and its key's lines, raw, URL- and base64-encoded
    sent = "\n".join(call.body.decode() for call in world.demo.llm.calls_to(CHAT))
    audit = "\n".join(r.model_dump_json() for r in await world.vault.audit.records())
    assert "request_api_key" in audit
    history = await world.history.load("demo-thread")
    assert history is not None
    shown = "\n".join([turn.transcript(), *(e.model_dump_json() for e in turn.events)])
    for name, haystack in {
        "LLM requests": sent, "audit rows": audit, "transcript": shown,
        "agent history": ModelMessagesTypeAdapter.dump_json(history.messages).decode(),
    }.items():  # fmt: skip
        assert not [f for f in forms if f in haystack], f"the gcp key leaked into {name}"


async def test_a_cancelled_gcp_question_creates_nothing_and_says_how_to_add_it(
    on_cloudrun: World,
) -> None:
    world, fakes = on_cloudrun, on_cloudrun.demo.providers
    turn = await world.turn(ASK, secrets=[None])
    assert [q.provider for q in turn.of(Question)] == ["gcp"]
    assert turn.of(Approval) == [] and fakes.cloudrun.services == {}
    assert "Google Cloud service-account key" in turn.final.text
    assert "kriptik keys add gcp" in turn.final.text
    assert not await world.vault.credentials.has(world.user_id, "gcp")
