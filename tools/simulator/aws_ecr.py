"""ECR in the AWS fake: repositories, the registry login (`GetAuthorizationToken`), images
(`push_image` puts one there, as a `docker push` would), and their deletion.

With `state.registry` (a `RegistryBacking`: tests/pipeline/test_sagemaker_docker.py) the
login is that real registry's, so a real `docker push` with ECR's login lands there; the
fake's image list stays its own (`push_image`)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tools.simulator.aws_state import AwsState, Ctx, Image, Repository
from tools.simulator.aws_wire import AwsError

__all__ = ["HANDLERS", "NEEDS", "push_image"]

Needs = list[tuple[str, str, dict[str, str]]]


def push_image(state: AwsState, region: str, repository: str, tag: str) -> str:
    """Put an image in a repository (what a push does); its digest."""
    repo = state.repositories[(region, repository)]
    digest = (
        "sha256:" + hashlib.sha256(f"{repository}:{tag}:{len(repo.images)}".encode()).hexdigest()
    )
    for image in repo.images.values():
        image.tags.discard(tag)
    repo.images[digest] = Image(digest, {tag}, repo.created)
    return digest


def _repo(ctx: Ctx, name: str) -> Repository:
    repo = ctx.state.repositories.get((ctx.region, name))
    if repo is None:
        raise AwsError("RepositoryNotFoundException", f"The repository with name '{name}' does "
                       f"not exist in the registry with id '{ctx.account}'")  # fmt: skip
    return repo


def _row(repo: Repository, account: str) -> dict[str, Any]:
    return {"repositoryArn": repo.arn, "registryId": account, "repositoryName": repo.name,
            "repositoryUri": repo.uri, "createdAt": repo.created,
            "imageTagMutability": "MUTABLE",
            "imageScanningConfiguration": {"scanOnPush": True}}  # fmt: skip


def create_repository(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    name = p["repositoryName"]
    if (ctx.region, name) in ctx.state.repositories:
        raise AwsError("RepositoryAlreadyExistsException", f"The repository with name '{name}' "
                       f"already exists in the registry with id '{ctx.account}'")  # fmt: skip
    repo = Repository(name, ctx.arn("ecr", f"repository/{name}"),
                      f"{ctx.account}.dkr.ecr.{ctx.region}.amazonaws.com/{name}", ctx.now)  # fmt: skip
    ctx.state.repositories[(ctx.region, name)] = repo
    return {"repository": _row(repo, ctx.account)}


def describe_repositories(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    names = p.get("repositoryNames") or [n for r, n in ctx.state.repositories if r == ctx.region]
    return {"repositories": [_row(_repo(ctx, n), ctx.account) for n in names]}


def get_authorization_token(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """ECR's login (user `AWS`, a 12-hour password); with `state.registry`, the login of
    that real registry instead, so a real push with it lands somewhere."""
    backing = ctx.state.registry
    if backing is None:
        user, password = "AWS", secrets.token_urlsafe(48)
        endpoint = f"https://{ctx.account}.dkr.ecr.{ctx.region}.amazonaws.com"
    else:
        user, password, endpoint = backing.username, backing.password, backing.url
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorizationData": [{
        "authorizationToken": token, "expiresAt": ctx.now + timedelta(hours=12),
        "proxyEndpoint": endpoint,
    }]}  # fmt: skip


def describe_images(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(ctx, p["repositoryName"])
    return {"imageDetails": [
        {"registryId": ctx.account, "repositoryName": repo.name, "imageDigest": i.digest,
         "imageTags": sorted(i.tags), "imageSizeInBytes": i.size, "imagePushedAt": i.pushed_at}
        for i in repo.images.values()
    ]}  # fmt: skip


def batch_delete_image(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(ctx, p["repositoryName"])
    deleted: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for wanted in p["imageIds"]:
        found = [i for i in repo.images.values()
                 if i.digest == wanted.get("imageDigest") or wanted.get("imageTag") in i.tags]  # fmt: skip
        if not found:
            failures.append({"imageId": wanted, "failureCode": "ImageNotFound",
                             "failureReason": "Requested image not found"})  # fmt: skip
        for image in found:
            del repo.images[image.digest]
            tag = {"imageTag": min(image.tags)} if image.tags else {}
            deleted.append({"imageDigest": image.digest} | tag)
    # Empty lists are left out: the model's ImageIdentifierList has a minimum of 1.
    return ({"imageIds": deleted} if deleted else {}) | ({"failures": failures} if failures else {})


def delete_repository(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(ctx, p["repositoryName"])
    if repo.images and not p.get("force"):
        raise AwsError("RepositoryNotEmptyException", f"The repository with name '{repo.name}' "
                       f"in registry with id '{ctx.account}' cannot be deleted because it still "
                       "contains images")  # fmt: skip
    del ctx.state.repositories[(ctx.region, repo.name)]
    return {"repository": _row(repo, ctx.account)}


HANDLERS: dict[str, Callable[[Ctx, dict[str, Any]], dict[str, Any]]] = {
    "CreateRepository": create_repository, "DescribeRepositories": describe_repositories,
    "GetAuthorizationToken": get_authorization_token, "DescribeImages": describe_images,
    "BatchDeleteImage": batch_delete_image, "DeleteRepository": delete_repository,
}  # fmt: skip


def _needs(op: str) -> Callable[[Ctx, dict[str, Any]], Needs]:
    def needs(ctx: Ctx, p: dict[str, Any]) -> Needs:
        names = p.get("repositoryNames") or [p.get("repositoryName", "*")]
        return [(f"ecr:{op}", ctx.arn("ecr", f"repository/{n}") if n != "*" else "*", {})
                for n in names]  # fmt: skip

    return needs


NEEDS: dict[str, Callable[[Ctx, dict[str, Any]], Needs]] = {op: _needs(op) for op in HANDLERS}
