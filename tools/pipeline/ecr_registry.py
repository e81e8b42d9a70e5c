"""Amazon ECR as the registry of SageMaker deployments' worker images.

SageMaker pulls a model's image from ECR in the endpoint's own region, so a SageMaker
deployment's image goes to KripTik's one repository in the user's account (the role's
CloudFormation template allows pushes there and nowhere else), one tag per deployment and
build: `<account>.dkr.ecr.<region>.amazonaws.com/kriptik-<id>:<model>-<deployment>-<hash>`.
The push login is ECR's token (valid 12 hours), fetched through the role KripTik assumes
(`tools.targets.sagemaker.SageMakerTarget.registry`), never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from tools.clients.registry import RegistryLogin

if TYPE_CHECKING:
    from tools.clients.ecr import RegistryLogin as EcrLogin

__all__ = ["EcrImages", "EcrRepositories", "ecr_tag"]

# ECR allows tags of up to 128 characters: [A-Za-z0-9_.-].
_TAG_MAX: Final = 128


@runtime_checkable
class EcrRepositories(Protocol):
    """What gives a user's ECR repository and push login: the SageMaker target, which holds
    the user's role sessions (so the registry never imports boto3 on the start path)."""

    async def registry(self, user_id: str, region: str) -> tuple[str, EcrLogin]: ...


def ecr_tag(model_slug: str, deployment_id: str, content_hash: str) -> str:
    """A deployment's tag: the model for people reading the repository, then the deployment
    and the build's content hash (a rebuild of the same files is the same tag)."""
    tail = f"-{deployment_id}-{content_hash[:12]}"
    return f"{model_slug[: _TAG_MAX - len(tail)]}{tail}"


@dataclass(frozen=True)
class EcrImages:
    """The image refs and push logins of one region's repository."""

    repositories: EcrRepositories
    region: str

    async def image_ref(self, user_id: str, tag: str) -> tuple[str, RegistryLogin]:
        """`host/repository:tag` and the login that pushes it (created on first use)."""
        repository, login = await self.repositories.registry(user_id, self.region)
        return f"{repository}:{tag}", RegistryLogin(
            server=repository.split("/", 1)[0], username=login.username, password=login.password
        )
