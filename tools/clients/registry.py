"""Container registries (OCI distribution API): a registry login, image references, and
deleting a pushed image's manifest for teardown.

`DELETE /v2/<name>/manifests/<digest>` with the user's registry credentials: HTTP Basic
first, then the bearer-token exchange that the registry's `WWW-Authenticate` asks for.
Registries that do not allow deletes through the API (GHCR, Docker Hub) answer 405 or
401; the caller then tells the user where to delete the image by hand.
"""

from __future__ import annotations

import re
from typing import Final

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from tools.clients._http import as_dict

__all__ = ["RegistryLogin", "delete_manifest", "split_ref"]

_CHALLENGE: Final = re.compile(r'(\w+)="([^"]*)"')


class RegistryLogin(BaseModel):
    """Credentials for one container registry; the password lives only in memory."""

    model_config = ConfigDict(frozen=True)

    server: str
    username: str
    password: SecretStr


def split_ref(ref: str) -> tuple[str, str]:
    """`host/path:tag` -> (`host/path`, `tag`); the tag defaults to latest."""
    head, _, tail = ref.rpartition(":")
    if head and "/" not in tail:
        return head, tail
    return ref, "latest"


def _base(host: str) -> str:
    # Loopback registries speak plain HTTP (as the Docker engine allows them to).
    loopback = host.startswith(("127.", "localhost"))
    return f"{'http' if loopback else 'https'}://{host}"


async def _bearer(
    http: httpx.AsyncClient, challenge: str, auth: httpx.BasicAuth | None
) -> str | None:
    fields = dict(_CHALLENGE.findall(challenge))
    realm = fields.pop("realm", None)
    if realm is None:
        return None
    resp = (
        await http.get(realm, params=fields, auth=auth)
        if auth
        else await http.get(realm, params=fields)
    )
    if resp.status_code != 200:
        return None
    data = as_dict(resp.json())
    token = data.get("token") or data.get("access_token")
    return str(token) if token else None


async def delete_manifest(
    http: httpx.AsyncClient, ref: str, digest: str, login: RegistryLogin | None
) -> tuple[bool, str]:
    """Delete `ref`'s manifest by `digest`. Returns (deleted, message for the user)."""
    repository, _ = split_ref(ref)
    host, _, name = repository.partition("/")
    url = f"{_base(host)}/v2/{name}/manifests/{digest}"
    auth = httpx.BasicAuth(login.username, login.password.get_secret_value()) if login else None
    try:
        resp = await http.delete(url, auth=auth) if auth else await http.delete(url)
        challenge = resp.headers.get("www-authenticate", "")
        if resp.status_code == 401 and challenge.lower().startswith("bearer"):
            token = await _bearer(http, challenge[len("bearer") :].strip(), auth)
            if token is not None:
                headers = {"Authorization": f"Bearer {token}"}
                resp = await http.delete(url, headers=headers)
    except httpx.HTTPError as err:
        return False, f"the registry {host} could not be reached ({type(err).__name__})"
    if resp.status_code in (200, 202):
        return True, f"deleted {ref} from {host}"
    if resp.status_code == 404:
        return True, f"{ref} was already gone from {host}"
    return False, (
        f"{host} did not delete {ref} (HTTP {resp.status_code}); delete it in the registry's "
        "web page (for GHCR: your GitHub profile > Packages)"
    )
