"""The chat's key entry for AWS: the role first (the user's external id and the
CloudFormation template that requires it, from the card's props), the access key pair second;
a pasted role ARN is stored with the user's own external id and checked by assuming it
against the AWS fake; a pasted key pair becomes its JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from tools.aws_onboarding import aws_secret, external_id_for, role_setup
from tools.credentials import save_key
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from ui.web.secret_entry import form_for
from vault import Settings, Vault


@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    fakes = FakeStack().start()
    yield fakes
    fakes.stop()


def test_the_card_offers_the_role_first_with_the_users_external_id_and_template() -> None:
    setup = role_setup("user-1", st.OPERATOR_ARN)
    assert setup is not None
    form = form_for("aws", reason="to deploy on SageMaker")
    props = form.__class__(**{**form.__dict__, "aws_role": setup.props()}).props()
    role = props["aws_role"]
    assert role["external_id"] == external_id_for("user-1") != external_id_for("user-2")
    template = json.loads(role["template"])
    trust = template["Resources"]["AccessRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert json.dumps(trust).count(role["external_id"]) == 1
    assert st.OPERATOR_ARN in json.dumps(trust)
    assert props["field_label"].startswith("Role ARN")
    assert "Recommended: create the role" in props["instructions"]
    assert role_setup("user-1", None) is None  # no principal of ours: key pairs only


def test_what_is_pasted_becomes_what_the_vault_stores() -> None:
    arn = "arn:aws:iam::123456789012:role/kriptik-access-abc"
    stored = json.loads(aws_secret("u1", SecretStr(f"  {arn} ")).get_secret_value())
    assert stored == {"role_arn": arn, "external_id": external_id_for("u1")}
    # Someone else's external id in pasted JSON is replaced by the user's own.
    other = json.dumps({"role_arn": arn, "external_id": external_id_for("u2")})
    assert json.loads(aws_secret("u1", SecretStr(other)).get_secret_value())["external_id"] == (
        external_id_for("u1")
    )
    pair = aws_secret("u1", SecretStr(f"{st.ACCESS_KEY_ID} {st.SECRET_ACCESS_KEY}"))
    assert json.loads(pair.get_secret_value()) == {
        "access_key_id": st.ACCESS_KEY_ID, "secret_access_key": st.SECRET_ACCESS_KEY,
    }  # fmt: skip
    assert aws_secret("u1", SecretStr("junk")).get_secret_value() == "junk"


async def test_a_pasted_role_arn_is_checked_by_assuming_it_and_stored(
    stack: FakeStack, settings: Settings, vault: Vault
) -> None:
    stack.reset()
    user = await vault.users.create("aws-user", SecretStr("correct-horse-9"))
    # The fake's role requires the external id KripTik derives for this user.
    stack.aws.state.roles[st.ROLE_ARN].external_id = external_id_for(user.id)
    fake = Settings(**stack.settings_fields(), home=settings.home, http_timeout_s=5.0)
    async with httpx.AsyncClient(trust_env=False) as http:
        result = await save_key(vault, fake, http, user_id=user.id, provider="aws",
                                secret=SecretStr(st.ROLE_ARN))  # fmt: skip
    assert result.outcome == "saved", result.message
    assert result.message.endswith(f"validated as {st.ROLE_ARN}")
    stored = json.loads((await vault.credentials.get(user.id, "aws")).get_secret_value())
    assert stored == {"role_arn": st.ROLE_ARN, "external_id": external_id_for(user.id)}
    stack.assert_clean()
