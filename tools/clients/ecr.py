"""Amazon ECR through boto3: the one repository a user's worker images go to, the
registry login Docker pushes with, and deleting an image at teardown.

```
EcrClient(session)
  ensure_repository(name) -> Repository         describe, else create (scan on push)
  login() -> RegistryLogin(registry, username "AWS", password: SecretStr, expires_at)
  images(repository) -> [Image(digest, tags, pushed_at, size)]
  delete_image(repository, tag=|digest=) -> bool  False: was gone
  delete_repository(name, force=) -> bool
```

The login is ECR's authorization token (base64 of `AWS:<password>`, valid 12 hours):
its password goes straight to the Docker engine and is registered with the redactor.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from pydantic import SecretStr

from tools.clients.aws_session import AwsSession
from tools.clients.errors import NotFound, Upstream
from vault.redact import REDACTOR

__all__ = ["EcrClient", "Image", "RegistryLogin", "Repository"]


@dataclass(frozen=True)
class Repository:
    name: str
    uri: str  # <account>.dkr.ecr.<region>.amazonaws.com/<name>
    arn: str


@dataclass(frozen=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime | None
    size_bytes: int | None


@dataclass(frozen=True)
class RegistryLogin:
    """What `docker login` takes; `password` never leaves as plain text but to the engine."""

    registry: str  # https://<account>.dkr.ecr.<region>.amazonaws.com
    username: str
    password: SecretStr
    expires_at: datetime | None


class EcrClient:
    """ECR for one session and region."""

    def __init__(self, session: AwsSession) -> None:
        self._s = session

    def __repr__(self) -> str:
        return f"EcrClient(region={self._s.region!r})"

    async def _call(
        self, op: str, params: dict[str, object], what: str, *, idempotent: bool
    ) -> dict[str, Any]:
        return await self._s.call("ecr", op, params, what=what, idempotent=idempotent)

    async def ensure_repository(self, name: str) -> Repository:
        """The repository `name`, created (scanned on push, tags mutable) if missing."""
        what = f"the ECR repository {name}"
        try:
            out = await self._call(
                "describe_repositories", {"repositoryNames": [name]}, what, idempotent=True
            )
            row = cast("list[dict[str, Any]]", out.get("repositories") or [{}])[0]
        except NotFound:
            params: dict[str, object] = {
                "repositoryName": name,
                "imageScanningConfiguration": {"scanOnPush": True},
                "imageTagMutability": "MUTABLE",
            }
            out = await self._call("create_repository", params, what, idempotent=False)
            row = cast("dict[str, Any]", out.get("repository") or {})
        return Repository(
            name=str(row.get("repositoryName", name)),
            uri=str(row.get("repositoryUri", "")),
            arn=str(row.get("repositoryArn", "")),
        )

    async def login(self) -> RegistryLogin:
        out = await self._call("get_authorization_token", {}, "the ECR login", idempotent=True)
        rows = cast("list[dict[str, Any]]", out.get("authorizationData") or [])
        try:
            user, _, password = (
                base64.b64decode(rows[0]["authorizationToken"]).decode().partition(":")
            )
        except (IndexError, KeyError, ValueError):
            raise Upstream(
                "AWS sent an ECR login that could not be read. Try again in a few minutes.",
                provider="AWS",
            ) from None
        REDACTOR.register(password)
        expires = rows[0].get("expiresAt")
        return RegistryLogin(
            registry=str(rows[0].get("proxyEndpoint", "")),
            username=user,
            password=SecretStr(password),
            expires_at=expires if isinstance(expires, datetime) else None,
        )

    async def images(self, repository: str) -> list[Image]:
        params: dict[str, object] = {"repositoryName": repository, "maxResults": 100}
        found: list[Image] = []
        while True:
            out = await self._call(
                "describe_images", params, f"the images of {repository}", idempotent=True
            )
            found += [
                _image(row) for row in cast("list[dict[str, Any]]", out.get("imageDetails") or [])
            ]
            if not out.get("nextToken"):
                return found
            params["nextToken"] = out["nextToken"]

    async def delete_image(
        self, repository: str, *, tag: str | None = None, digest: str | None = None
    ) -> bool:
        """Delete one image by tag or digest; False when it was not there."""
        if (tag is None) == (digest is None):
            raise ValueError("give exactly one of tag and digest")
        image_id = {"imageTag": tag} if tag is not None else {"imageDigest": digest}
        params: dict[str, object] = {"repositoryName": repository, "imageIds": [image_id]}
        try:
            out = await self._call(
                "batch_delete_image", params, f"the image in {repository}", idempotent=True
            )
        except NotFound:  # the repository itself is gone
            return False
        return bool(out.get("imageIds"))

    async def delete_repository(self, name: str, *, force: bool = False) -> bool:
        """Delete the repository (`force`: with its images); False when it was not there."""
        try:
            await self._call(
                "delete_repository",
                {"repositoryName": name, "force": force},
                f"the ECR repository {name}",
                idempotent=True,
            )
        except NotFound:
            return False
        return True


def _image(row: dict[str, Any]) -> Image:
    pushed, size = row.get("imagePushedAt"), row.get("imageSizeInBytes")
    return Image(
        digest=str(row.get("imageDigest", "")),
        tags=tuple(str(t) for t in cast("list[Any]", row.get("imageTags") or [])),
        pushed_at=pushed if isinstance(pushed, datetime) else None,
        size_bytes=size if isinstance(size, int) else None,
    )
