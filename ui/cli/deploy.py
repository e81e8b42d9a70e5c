"""`kriptik deploy REPO_ID` and `kriptik deployments list|status|teardown|resume|artifacts`:
the GPU deployment pipeline from the terminal. `--target huggingface|cloudrun|sagemaker`
(and `--region`) plans on Hugging Face Inference Endpoints, Google Cloud Run or Amazon
SageMaker (through the user's AWS role) instead of RunPod, priced from that target's catalog.

`kriptik deploy` shows the plan and its price, and creates nothing unless the command line
says `--yes-i-approve`. It then runs the durable pipeline in this process and prints its
progress; interrupted, it resumes with `kriptik deployments resume ID`. A plan that could
cost more than the user's budget allows (`tools.budget`) is refused either way, exit code 4,
with what would fit.
"""

from __future__ import annotations

import argparse
import json
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui.cli.console import read_secret, run_command, say, show_listing, warn

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from tools.pipeline import (
        DeploymentPipeline,
        DeploymentPlan,
        DeployRequest,
        PipelineServices,
        ProgressEvent,
    )
    from ui.cli import Subparsers
    from vault.deployments import DeploymentView

_DEFAULT_USER = "admin"
_OVER_BUDGET = 4  # the exit code of a plan refused for the budget


def _minutes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of minutes, got {text!r}")
    return int(text)


def register(subparsers: Subparsers) -> None:
    deploy = subparsers.add_parser(
        "deploy", help="deploy a Hugging Face model to RunPod, Hugging Face, Cloud Run or SageMaker"
    )
    deploy.add_argument("repo_id", metavar="REPO_ID", help="owner/name on Hugging Face")
    deploy.add_argument(
        "--target", choices=["runpod", "huggingface", "cloudrun", "sagemaker"], default="runpod",
        help="where it runs: RunPod serverless (default), Hugging Face Inference Endpoints, "
        "Google Cloud Run or Amazon SageMaker",
    )  # fmt: skip
    deploy.add_argument("--region", help="the target's region (default: its cheapest offer)")
    deploy.add_argument(
        "--gpu", default="auto", help="GPU pool (e.g. ADA_24), the target's offer id, or auto"
    )
    deploy.add_argument("--revision", help="branch, tag or commit (default: the main branch)")
    deploy.add_argument("--dtype", default="bf16", help="bf16, fp16 or fp32 (default bf16)")
    deploy.add_argument("--context", type=int, help="vLLM MAX_MODEL_LEN (default: up to 8192)")
    deploy.add_argument("--workers-max", type=int, default=1, help="most workers at once")
    deploy.add_argument("--workers-min", type=int, default=0, help="always-on workers (billed)")
    deploy.add_argument("--idle-timeout", type=int, default=5, help="seconds before scale-down")
    deploy.add_argument("--weights", choices=["baked", "network_volume"], default="baked")
    deploy.add_argument(
        "--ttl-minutes", type=_minutes, help="tear the endpoint down after this many minutes "
        "(default: KRIPTIK_ENDPOINT_TTL_S); a shorter one can fit a budget",
    )  # fmt: skip
    deploy.add_argument(
        "--registry", help="HOST/NAMESPACE for worker images (default: GHCR; Cloud Run: "
        "Artifact Registry; SageMaker: always ECR in your AWS account)",
    )  # fmt: skip
    deploy.add_argument("--registry-user", help="registry login (password from stdin/prompt)")
    deploy.add_argument("--docker-host", help="Docker engine address (default: the SDK's)")
    deploy.add_argument("--user", default=_DEFAULT_USER, help="owner (default: admin)")
    deploy.add_argument(
        "--yes-i-approve",
        action="store_true",
        help="create the resources and spend; without it, only the plan",
    )
    deploy.set_defaults(handler=_deploy)

    group = subparsers.add_parser("deployments", help="list, inspect or tear down deployments")
    sub = group.add_subparsers(dest="deployments_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="your deployments, newest first")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    status = sub.add_parser("status", help="one deployment, with its workers right now")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    down = sub.add_parser("teardown", help="delete the endpoint, template and credentials")
    down.add_argument("--remove-image", action="store_true", help="also delete the image")
    resume = sub.add_parser("resume", help="continue a deployment this CLI started")
    files = sub.add_parser("artifacts", help="write the worker's build context; print commands")
    files.add_argument("--out", type=Path, default=Path("worker"), help="directory to write")
    for parser, handler in (
        (ls, _list),
        (status, _status),
        (down, _teardown),
        (resume, _resume),
        (files, _artifacts),
    ):
        if parser is not ls:
            parser.add_argument("id", metavar="ID", help="deployment id or endpoint id")
        parser.add_argument("--user", default=_DEFAULT_USER, help="owner (default: admin)")
        parser.set_defaults(handler=handler)


@asynccontextmanager
async def _services(
    args: argparse.Namespace, *, launch: bool
) -> AsyncGenerator[tuple[PipelineServices, str]]:
    """The pipeline's services for this command, and the user's id (see `_pipeline`)."""
    async with _command(args, launch=launch) as (services, _, user_id):
        yield services, user_id


@asynccontextmanager
async def _pipeline(
    args: argparse.Namespace,
) -> AsyncGenerator[tuple[DeploymentPipeline, str]]:
    """The running pipeline for this command (DBOS launched here), and the user's id."""
    async with _command(args, launch=True) as (_, pipeline, user_id):
        if pipeline is None:  # never: launch=True launches it
            raise RuntimeError("the pipeline did not launch")
        yield pipeline, user_id


@asynccontextmanager
async def _command(
    args: argparse.Namespace, *, launch: bool
) -> AsyncGenerator[tuple[PipelineServices, DeploymentPipeline | None, str]]:
    """This command's services (from the composition root, with the engine and registry
    its flags choose), the pipeline when `launch` (DBOS), and the user's id."""
    from tools.pipeline import StaticRegistry
    from tools.pipeline.images import ImageService
    from ui.root import opened_root, resolve_user

    async with opened_root() as root:
        user = await resolve_user(root.vault, args.user)
        registry = None  # the user's GHCR
        if getattr(args, "registry", None):
            host, _, space = str(args.registry).partition("/")
            password = (
                read_secret("registry password (input hidden): ") if args.registry_user else None
            )
            registry = StaticRegistry(host, space or args.user, args.registry_user, password)
        images = ImageService(
            docker_cli=root.settings.docker_cli, docker_host=getattr(args, "docker_host", None)
        )
        services = root.pipeline_services(images=images, registry=registry)
        # Its own executor id: this process recovers only what it started itself.
        pipeline = (
            await root.launch_pipeline(services, executor_id=f"cli-{os.getpid()}")
            if launch
            else None
        )
        yield services, pipeline, user.id


def _line(event: ProgressEvent) -> str | None:
    from tools.pipeline.events import Failed, LogLine, ResourceCreated

    if isinstance(event, Failed):
        return "FAILED: " + event.failure.text()
    if isinstance(event, LogLine):
        return f"  | {event.line}"
    if isinstance(event, ResourceCreated):
        return f"  created {event.resource} {event.id} ({event.name})"
    return getattr(event, "message", None)


async def _follow(services: PipelineServices, user_id: str, deployment_id: str) -> int:
    from tools.pipeline import api

    async for event in api.read_progress(deployment_id):
        if (text := _line(event)) is not None:
            say(text)
    outcome = await api.wait_deployment(deployment_id)
    view = await services.deployments.get(deployment_id, user_id=user_id)
    if outcome == "ready":
        say(f"\nReady: endpoint {view.endpoint_id}")
        for name, url in sorted(view.urls.items()):
            say(f"  {name}: {url}")
        hourly = view.usd_per_second * 3600
        runs = "worker" if view.plan.get("target", "runpod") == "runpod" else "replica"
        say(f"A running {runs} costs ${hourly:.2f}/h; idle {runs}s scale to zero.")
        say(f"Tear it down with: kriptik deployments teardown {view.id}")
        return 0
    if view.state == "ready":  # the endpoint works; a later stage (the web app) failed
        warn(f"Endpoint {view.endpoint_id} is ready, but: {view.message}")
    else:
        warn(
            f"Deployment {view.id} ended {outcome}. Its workers were scaled to zero; remove "
            f"the rest with: kriptik deployments teardown {view.id}"
        )
    return 1


def _deploy(args: argparse.Namespace) -> int:
    if args.target == "sagemaker" and getattr(args, "registry", None):
        # SageMaker pulls a model's image only from ECR in the endpoint's region.
        warn(
            "error: --registry does not apply to SageMaker: KripTik pushes the worker image "
            "to its ECR repository in your AWS account. Run again without --registry."
        )
        return 2

    async def body() -> int:
        from tools.pipeline import DeployRequest, api

        request = DeployRequest(
            repo_id=args.repo_id,
            revision=args.revision,
            gpu=args.gpu,
            dtype=args.dtype,
            context_tokens=args.context,
            workers_max=args.workers_max,
            workers_min=args.workers_min,
            idle_timeout_s=args.idle_timeout,
            weights=args.weights,
            ttl_s=args.ttl_minutes * 60 if args.ttl_minutes else None,
            target=args.target,
            region=args.region,
        )
        async with _command(args, launch=args.yes_i_approve) as (services, pipeline, user_id):
            plan = await show_plan(services, user_id, request)
            if isinstance(plan, int):
                return plan
            if pipeline is None:
                say("Nothing was created. Run again with --yes-i-approve to deploy at this price.")
                return 3
            view = await api.create_deployment(pipeline, user_id=user_id, plan=plan)
            say(f"Deployment {view.id} started.")
            return await _follow(services, user_id, view.id)

    return int(run_command(body))


async def show_plan(
    services: PipelineServices, user_id: str, request: DeployRequest
) -> DeploymentPlan | int:
    """Plan `request` and print the plan with its price (the target's, for Hugging Face or
    Cloud Run) and the budget line; the plan, or the exit code that refuses it (2: it
    cannot be planned, 4: over budget). Creates nothing."""
    from tools.budget import plan_budget
    from tools.clients.errors import ProviderError
    from tools.pipeline import PlanError, plan_deployment
    from vault import CredentialNotFound

    try:
        plan = await plan_deployment(services, user_id, request)
    except (PlanError, ProviderError, CredentialNotFound) as err:
        warn(f"error: {err}")
        return 2
    say(f"Plan: {plan.summary()}")
    budget = await plan_budget(services, user_id, plan)
    if not budget.fits:  # before any approval: nothing is created
        warn(f"error: {budget.refusal(cli=True)}")
        return _OVER_BUDGET
    say(budget.card_line())
    return plan


def _row(view: Any) -> dict[str, Any]:
    return json.loads(view.model_dump_json(exclude={"plan"}))


def _target_gpu(v: DeploymentView) -> str | None:
    """Where a deployment on Hugging Face or Cloud Run runs: the target and the offer's
    label from its stored plan ("Google Cloud Run, NVIDIA L4 24 GB (...)"); None on RunPod,
    whose pools are shown by their ids and names."""
    from tools.pipeline.target_pick import TARGET_TITLES

    target = str(v.plan.get("target") or "runpod")
    if target == "runpod":
        return None
    offer: dict[str, Any] = v.plan.get("target_gpu") or {}
    label = str(offer.get("label") or "")
    titles: dict[str, str] = {str(k): t for k, t in TARGET_TITLES.items()}
    return f"{titles.get(target, target)}, {label or (v.gpu_pools or ['-'])[0]}"


def _deployment_line(v: DeploymentView) -> str:
    from tools.pipeline.cost import spent_text

    gpu = _target_gpu(v) or (v.gpu_pools or ["-"])[0]
    return (
        f"{v.id}  {v.state:<12} {v.repo_id:<40} {v.endpoint_id or '-':<16} "
        f"{gpu:<12} {spent_text(v)}"
    )


def _list(args: argparse.Namespace) -> int:
    async def body() -> int:
        from tools.pipeline.cost import refresh  # each cost accrued up to now

        async with _services(args, launch=False) as (services, user_id):
            views = await refresh(services, user_id)
        return show_listing(
            views, as_json=args.json, row=_row, line=_deployment_line,
            empty="No deployments yet. Start one with `kriptik deploy REPO_ID`.",
        )  # fmt: skip

    return int(run_command(body))


def _status(args: argparse.Namespace) -> int:
    async def body() -> int:
        from tools.pipeline import api

        async with _services(args, launch=False) as (services, user_id):
            view = await services.deployments.find(user_id, args.id)
            status = await api.deployment_status(services, user_id, view.id)
        if args.json:
            say(
                json.dumps(
                    {
                        **_row(status.deployment),
                        "workers": status.workers,
                        "running_usd_per_hour": status.running_usd_per_hour,
                    },
                    indent=2,
                )
            )
            return 0
        d = status.deployment
        say(f"{d.repo_id} ({d.kind}) - {d.state}{f' / {d.stage}' if d.stage else ''}")
        from tools.sizing import pool_label  # the one display name of a pool

        pools = _target_gpu(d) or ", ".join(map(pool_label, d.gpu_pools))
        from tools.pipeline.cost import spent_text

        say(f"endpoint {d.endpoint_id or '-'} on {pools}; cost so far {spent_text(d)}")
        if status.workers is not None:
            say(f"workers: {status.workers}; now ${status.running_usd_per_hour:.2f}/h")
        for name, url in sorted(d.urls.items()):
            say(f"  {name}: {url}")
        if d.message or status.note:
            say(status.note or d.message or "")
        return 0

    return int(run_command(body))


def _teardown(args: argparse.Namespace) -> int:
    async def body() -> int:
        from tools.pipeline import api

        async with _pipeline(args) as (pipeline, user_id):
            view = await pipeline.services.deployments.find(user_id, args.id)
            report = await api.teardown(pipeline, user_id, view.id, remove_image=args.remove_image)
        (warn if report.failure else say)(report.text())
        return 1 if report.failure else 0

    return int(run_command(body))


def _resume(args: argparse.Namespace) -> int:
    async def body() -> int:
        from dbos import DBOS

        async with _pipeline(args) as (pipeline, user_id):
            view = await pipeline.services.deployments.find(user_id, args.id)
            await DBOS.resume_workflow_async(view.id)
            return await _follow(pipeline.services, user_id, view.id)

    return int(run_command(body))


def _artifacts(args: argparse.Namespace) -> int:
    async def body() -> int:
        from tools.artifacts.worker import build_commands, render_worker
        from tools.pipeline import DeploymentPlan

        async with _services(args, launch=False) as (services, user_id):
            view = await services.deployments.find(user_id, args.id)
        plan = DeploymentPlan.model_validate(view.plan)
        if plan.target in ("huggingface", "sagemaker"):
            say("This deployment runs Hugging Face's serving image: there is nothing to build.")
            return 0
        if not plan.worker.needs_build:
            say("This deployment runs RunPod's prebuilt vLLM image: there is nothing to build.")
            return 0
        target = render_worker(plan.worker, secret=plan.needs_token).write(args.out)
        say(f"Wrote the worker to {target}. Build and push it with:")
        image = view.image or f"ghcr.io/YOUR_NAME/kriptik-worker:{view.id}"
        for line in build_commands(str(target), image, secret=plan.needs_token):
            say(f"  {line}")
        return 0

    return int(run_command(body))
