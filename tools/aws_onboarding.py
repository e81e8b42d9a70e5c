"""How a user gives KripTik access to their AWS account: a role KripTik assumes (shown
first) or an access key pair, and what the chat's key card shows for it.

```
external_id_for(user_id) -> "kriptik-<24 hex>"        the same for a user, every time
role_setup(user_id, principal_arn) -> RoleSetup | None  the external id and the template
aws_secret(user_id, pasted) -> SecretStr               what the vault stores (JSON)
```

The external id is derived from the user's id, so the card can show it (and the template
that requires it) before anything is stored, and a user can never pick another's: KripTik
always assumes a role with the id of the user who asked (the confused deputy). A pasted
role ARN becomes `{"role_arn", "external_id"}`; a key pair may be pasted as
"ACCESS_KEY_ID SECRET_ACCESS_KEY" or as JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from tools.artifacts.aws_role import render_role_template
from tools.clients.aws_permissions import AwsNames

__all__ = ["RoleSetup", "aws_secret", "external_id_for", "role_setup"]

_STACKS = "https://console.aws.amazon.com/cloudformation/home#/stacks/create"
_ARN = re.compile(r"arn:[\w-]+:iam::\d{12}:role/[\w+=,.@/-]+")
_PAIR = re.compile(r"((?:AKIA|ASIA)[A-Z0-9]{12,124})[\s:,]+(\S{16,})")


@dataclass(frozen=True)
class RoleSetup:
    """What the key card shows to create the role: nothing here is secret."""

    external_id: str
    principal_arn: str
    template: str  # the CloudFormation template (JSON), for the user to download
    filename: str
    role_name: str

    def props(self) -> dict[str, Any]:
        return {"external_id": self.external_id, "principal_arn": self.principal_arn,
                "template": self.template, "filename": self.filename,
                "role_name": self.role_name, "console_url": _STACKS}  # fmt: skip


def external_id_for(user_id: str) -> str:
    """The user's external id: stable, unique to them, and not theirs to choose."""
    digest = hashlib.sha256(f"kriptik-aws-external-id\0{user_id}".encode()).hexdigest()
    return f"kriptik-{digest[:24]}"


def role_setup(user_id: str, principal_arn: str | None) -> RoleSetup | None:
    """The template for this user's role; None when this server has no AWS principal of
    its own to trust (then only a key pair works)."""
    if not principal_arn:
        return None
    external_id = external_id_for(user_id)
    names = AwsNames.for_external_id(external_id)
    template = render_role_template(external_id=external_id, principal_arn=principal_arn)
    return RoleSetup(external_id=external_id, principal_arn=principal_arn, template=template,
                     filename=f"{names.access_role}.json", role_name=names.access_role)  # fmt: skip


def aws_secret(user_id: str, pasted: SecretStr) -> SecretStr:
    """What the vault stores for what the user pasted: a role ARN gets the user's external
    id; "KEY_ID SECRET" becomes the key pair's JSON; JSON passes (a role's external id is
    always the user's own); anything else is left for the vault's check to refuse."""
    text = pasted.get_secret_value().strip()
    if _ARN.fullmatch(text):
        return SecretStr(json.dumps({"role_arn": text, "external_id": external_id_for(user_id)}))
    if pair := _PAIR.fullmatch(text):
        return SecretStr(json.dumps({"access_key_id": pair[1], "secret_access_key": pair[2]}))
    try:
        fields: object = json.loads(text)
    except ValueError:
        return pasted
    if isinstance(fields, dict) and "role_arn" in fields:
        role: dict[str, Any] = {str(k): v for k, v in fields.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        return SecretStr(json.dumps(role | {"external_id": external_id_for(user_id)}))
    return pasted
