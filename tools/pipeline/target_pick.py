"""The parts of a plan on a target other than RunPod (`tools.targets`), which
`plan.plan_deployment` puts together: the same model inspection and VRAM estimate as
RunPod's plan, then the cheapest offer of the target's own priced catalog that holds the
estimate's upper end, in the region asked for; the smoke test's payload and the notes.

Everything here runs before anything is created, and every refusal says what to change:
a target this server did not enable, a missing key (`TargetKeyMissing`, with how to add
it), a region without GPU offers (with the regions that have them), an offer the catalog
does not list, and a model too large for every offer (naming the largest).

The plan restates the offer in the fields every view already reads: `pool` is its id,
`pool_label` its label, `usd_per_second` its hourly price / 3600; `target_gpu` keeps the
offer itself, with the region and the source of its price.
"""

from __future__ import annotations

import math
from typing import Any, Final

from tools.artifacts.worker import WorkerPlan, sample_input
from tools.clients.errors import ProviderError
from tools.pipeline.plan_error import PlanError
from tools.pipeline.services import PipelineServices
from tools.sizing import VramEstimate, per_gpu_fit_bytes
from tools.targets._huggingface import EMBEDDING_TASKS, LLM_TASKS
from tools.targets._sagemaker import hourly_note, idle_before_zero_s, scale_to_zero_note
from tools.targets.base import DeployTarget, TargetGpu, TargetName
from vault import CredentialNotFound

__all__ = [
    "TARGET_TITLES", "TargetKeyMissing", "pick_offer", "quota_notes", "scale_to_zero_minutes",
    "target_for", "target_notes", "target_offers", "target_test_input",
]  # fmt: skip

# How each target is named to users (cards, CLI, chat).
TARGET_TITLES: Final[dict[TargetName, str]] = {
    "runpod": "RunPod serverless",
    "huggingface": "Hugging Face Inference Endpoints",
    "cloudrun": "Google Cloud Run",
    "sagemaker": "Amazon SageMaker",
}

_GIB: Final = 1 << 30
# The smoke test of Hugging Face's serving images (TGI, TEI): their own request shapes.
_TGI_SMOKE: Final = {"inputs": "Say hello in five words.", "parameters": {"max_new_tokens": 16}}
_TEI_SMOKE: Final = {"inputs": "hello"}
# What each target's key is, and how a user adds it (the vault's provider id is the key).
_KEY_HOW: Final = {
    "huggingface": (
        "no Hugging Face token is stored: Hugging Face Inference Endpoints deploy under your "
        "account (a token with write access, and a payment method on the account). Add it "
        "with `kriptik keys add huggingface`, or enter it when the chat asks"
    ),
    "gcp": (
        "no Google Cloud key is stored: Google Cloud Run deploys with your service-account "
        "JSON key (roles/run.admin, roles/iam.serviceAccountUser and "
        "roles/artifactregistry.writer on its project). Add it with "
        "`kriptik keys add gcp < key.json`, or paste the whole JSON file when the chat asks"
    ),
    "aws": (
        "no AWS credential is stored: Amazon SageMaker deploys in your AWS account through a "
        "role KripTik assumes (create it from the CloudFormation template the chat offers, "
        "then paste its ARN), or an access key pair. Add it with `kriptik keys add aws`, or "
        "enter it when the chat asks"
    ),
}


class TargetKeyMissing(CredentialNotFound):
    """The user has no key for the target's credential; the message says how to add it."""

    def __init__(self, message: str, provider: str) -> None:
        super().__init__(message)
        self.provider = provider


async def target_for(services: PipelineServices, user_id: str, name: TargetName) -> DeployTarget:
    """The target `name`, once the user holds its key.

    Raises:
        PlanError: This server did not enable the target.
        TargetKeyMissing: The user has no key for it.
    """
    target = services.targets.get(name)
    if target is None:
        titles: dict[str, str] = {str(k): v for k, v in TARGET_TITLES.items()}
        enabled = ", ".join(titles.get(n, n) for n in ("runpod", *services.targets))
        raise PlanError(
            f"{TARGET_TITLES[name]} is not enabled on this KripTik server (it builds its deploy "
            f"targets at start, in ui/root.py); enabled here: {enabled}. Deploy there, or ask "
            "the operator to enable it"
        )
    if not await services.vault.credentials.has(user_id, target.credential):
        raise TargetKeyMissing(
            _KEY_HOW.get(target.credential, f"no {target.credential} key is stored"),
            target.credential,
        )
    return target


async def target_offers(target: DeployTarget, user_id: str) -> list[TargetGpu]:
    """The target's priced offers now; its refusal (a revoked key, an outage) as a
    `PlanError`, before anything is created."""
    try:
        return await target.catalog(user_id)
    except ProviderError as err:
        raise PlanError(f"{TARGET_TITLES[target.name]} could not list its GPUs: {err}") from None


def pick_offer(
    offers: list[TargetGpu], estimate: VramEstimate, *, target: TargetName,
    region: str | None, gpu: str, max_gpus: int, split: bool,
) -> TargetGpu:  # fmt: skip
    """The cheapest offer that holds `estimate`'s upper end, in `region` when one is
    named, and the offer `gpu` names unless it is "auto".

    Raises:
        PlanError: The region has no GPU offers, the catalog does not list the offer, or
            no offer holds the model (naming the largest, or the user's GPU limit).
    """
    title = TARGET_TITLES[target]
    if region is not None:
        regions = sorted({o.region for o in offers})
        offers = [o for o in offers if o.region == region]
        if not offers:
            raise PlanError(
                f"{title} has no GPU offers in {region!r}; regions with GPUs: "
                f"{', '.join(regions) or 'none now'}"
            )
    if gpu != "auto":
        named = [o for o in offers if o.offer_id.lower() == gpu.lower()]
        if not named:
            where = f" in {region}" if region else ""
            listed = ", ".join(sorted({o.offer_id for o in offers}))
            raise PlanError(f"{title} does not list {gpu!r}{where}; its offers: {listed}")
        offers = named
    need = estimate.gpu_fit_bytes / _GIB
    holding = [o for o in offers if _holds(o, estimate, split)]
    allowed = [o for o in holding if o.gpu_count <= max_gpus]
    if open_ := [o for o in allowed if not o.quota_note]:
        return min(open_, key=lambda o: (o.usd_per_hour, o.offer_id))
    if allowed:  # each offer that holds it is out of the account's quota
        cheapest = min(allowed, key=lambda o: (o.usd_per_hour, o.offer_id))
        raise PlanError(
            f"on {title} only {', '.join(sorted(o.offer_id for o in allowed))} hold this model, "
            f"and {cheapest.quota_note}; then plan again"
        )
    if holding:
        raise PlanError(
            f"on {title} this model needs {min(o.gpu_count for o in holding)} GPUs and your "
            f"limit is {max_gpus}: ask an admin to raise it (`kriptik admin limits set USER "
            "--max-gpus N`), or use a smaller dtype or a quantized variant"
        )
    return _too_large(title, offers, need, gpu)


def quota_notes(offers: list[TargetGpu], picked: TargetGpu, estimate: VramEstimate,
                split: bool) -> tuple[str, ...]:  # fmt: skip
    """Why a cheaper offer that holds the model was passed over: the account's quota (with
    the link to request more)."""
    return tuple(
        f"{o.offer_id} would cost ${o.usd_per_hour:.2f}/h, but {o.quota_note}."
        for o in sorted(offers, key=lambda o: o.usd_per_hour)
        if o.quota_note and o.region == picked.region and o.usd_per_hour < picked.usd_per_hour
        and _holds(o, estimate, split)
    )  # fmt: skip


def _too_large(title: str, offers: list[TargetGpu], need: float, gpu: str) -> TargetGpu:
    if not offers:
        raise PlanError(f"{title} offers no GPU to this account now; try again later")
    largest = max(offers, key=lambda o: (o.gpu_memory_gib * o.gpu_count, -o.usd_per_hour))
    which = f"{gpu} holds" if gpu != "auto" else f"the largest, {largest.label}, holds"
    raise PlanError(
        f"the model needs up to {need:.1f} GiB of GPU memory and no {title} offer holds it "
        f"({which} {largest.gpu_memory_gib * largest.gpu_count:g} GiB): use a smaller dtype "
        "or a quantized variant, or deploy on RunPod"
    )


def _holds(offer: TargetGpu, estimate: VramEstimate, split: bool) -> bool:
    """Whether the offer's GPUs hold the estimate's upper end (split over them only when
    the server shards the model, with the attention heads dividing evenly)."""
    if offer.gpu_count > 1:
        heads = estimate.num_attention_heads or 1
        if not split or heads % offer.gpu_count:
            return False
    need = per_gpu_fit_bytes(estimate, offer.gpu_count)
    return need <= offer.gpu_memory_gib * _GIB


def target_test_input(target: TargetName, worker: WorkerPlan) -> dict[str, Any]:
    """The smoke test's payload: our worker's own job input on Cloud Run; on Hugging Face
    the request shape of its serving image (TGI, TEI, or the default toolkit's); on
    SageMaker TGI's for a language model."""
    if target == "sagemaker" and not worker.needs_build:
        return dict(_TGI_SMOKE)
    if target != "huggingface":
        return sample_input(worker)
    if worker.task in LLM_TASKS:
        return dict(_TGI_SMOKE)
    if worker.task in EMBEDDING_TASKS:
        return dict(_TEI_SMOKE)
    sample = sample_input(worker)
    main: Any = sample.get("inputs", sample.get("prompt", next(iter(sample.values()), "")))
    return {"inputs": main[0] if isinstance(main, list) and main else main}


def scale_to_zero_minutes(idle_timeout_s: int) -> int:
    """Hugging Face's idle time before scale-to-zero, in its whole minutes (at least one)."""
    return max(1, math.ceil(max(60, idle_timeout_s) / 60))


def target_notes(
    target: TargetName, idle_timeout_s: int, needs_token: bool, *, always_on: int = 0
) -> tuple[str, ...]:
    """What the user must know about a deployment on `target` (the card shows them);
    `always_on`: the replicas that never scale in."""
    if target == "huggingface":
        minutes = scale_to_zero_minutes(idle_timeout_s)
        notes = [
            f"It scales to zero after {minutes} min idle; the first request after that waits "
            "for a cold start (Hugging Face answers 503 until the endpoint is up)."
        ]
        if needs_token:
            notes.append("The model is gated or private: your Hugging Face token must hold "
                         "access to it (checked before anything is created).")  # fmt: skip
        return tuple(notes)
    if target == "sagemaker":
        # No replica always on: an inference component that scales to zero.
        if always_on:
            return (hourly_note(),)
        return (scale_to_zero_note(idle_before_zero_s(idle_timeout_s)),)
    return (
        "A private service: calls need a Google identity token (the generated web app mints "
        "one server-side). Cloud Run scales an idle service to zero by itself; the first "
        "request after that waits for a cold start.",
    )
