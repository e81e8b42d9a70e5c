"""The simulated assistant's GPU half, stage by stage: inspect the model, get the RunPod
key, size and price it, prepare the worker, create the endpoint behind its approval, and
wait until it is ready. A message that names Hugging Face (Inference Endpoints) or Google
Cloud Run deploys there instead: the create call passes that target, and when its card says
the target's key is missing (a Hugging Face token, a Google Cloud service-account JSON), the
key is asked for as RunPod's is, then the create is called again. Each stage returns the
next reply, or None when its work is already done in the conversation (so a stage is never
repeated), in the order the product's system prompt asks for (prompts/pipeline.md).
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from tools.simulator import _assistant_words as words
from tools.simulator._chat_transcript import ToolEvent, Transcript, as_list
from tools.simulator.llm import Reply

__all__ = ["Flow", "Unavailable"]

_GENERATIVE: Final = frozenset({"text-generation", "image-text-to-text", "text2text-generation"})
_EMBEDDING: Final = frozenset({"feature-extraction", "sentence-similarity", "fill-mask"})
_STOPPED: Final = frozenset({"failed", "cancelled", "tearing_down", "torn_down"})
_MAX_STATUS_CHECKS: Final = 3
_TITLES: Final = {"runpod": "RunPod API key", "huggingface": "Hugging Face token",
                  "github": "GitHub token", "vercel": "Vercel token", "netlify": "Netlify token",
                  "gcp": "Google Cloud service-account key",
                  "aws": "AWS role (or access key pair)"}  # fmt: skip
# The key each other target deploys with (the vault's provider id).
_TARGET_KEYS: Final = {"huggingface": "huggingface", "cloudrun": "gcp", "sagemaker": "aws"}


class Unavailable(Exception):
    """The next step needs a tool this request does not offer."""

    def __init__(self, tool: str) -> None:
        super().__init__(tool)
        self.tool = tool


class Flow:
    """The stages, over one transcript. Stages that pass leave what they read on `self`."""

    def __init__(self, t: Transcript) -> None:
        self.t = t
        self.repo = t.repo or ""
        self.model: dict[str, Any] = {}
        self.vram: dict[str, Any] = {}
        self.gpu: dict[str, Any] = {}
        self.worker: dict[str, Any] = {}
        self.report: dict[str, Any] = {}
        self.key_seq = -1
        self.create_seq = -1

    # ---- helpers ------------------------------------------------------------------------
    @property
    def target(self) -> str:
        """Where to deploy: the target the user's message names, else the one an earlier
        create call of this request passed ("yes, go ahead" keeps it), else RunPod."""
        named = words.target_named(self.t.text)
        if named is not None:
            return named
        earlier = self.t.last("create_runpod_endpoint", repo_id=self.repo)
        return str(earlier.args.get("target") or "runpod") if earlier else "runpod"

    def call(self, tool: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """A tool call, only for a tool the request offers."""
        if tool not in self.t.tools:
            raise Unavailable(tool)
        return tool, args

    def key(self, provider: str, *, since: int = -1) -> tuple[str | None, ToolEvent | None]:
        """What the conversation says about a provider's key: None (nothing yet), missing,
        rejected, valid, stored (just entered), cancelled or refused (this turn)."""
        for e in reversed(self.t.since(since)):
            if e.outcome == "error" and f"request_api_key with provider '{provider}'" in e.text:
                return "rejected", e  # a tool found the stored key refused by the provider
            if e.args.get("provider") != provider:
                continue
            if e.tool == "request_api_key" and e.outcome == "ok":
                return "stored", e
            if e.tool == "request_api_key" and e.outcome == "error":
                if not e.this_turn:  # unanswered in an earlier turn: ask again now
                    return "missing", e
                return ("cancelled" if "did not provide" in e.text else "refused"), e
            if e.tool == "check_credential" and e.outcome == "ok":
                status = e.data.get("status")
                return (status if status in ("missing", "rejected") else "valid"), e
        return None, None

    def ask_key(self, provider: str, reason: str, lead: str = "") -> Reply:
        title = _TITLES[provider]
        text = (
            f"{lead}I need your {title} {reason}. I'll ask for it in a secure field: it "
            "goes straight into your encrypted vault and I never see it."
        )
        return Reply(text=text.strip(), calls=[
            self.call("request_api_key", {"provider": provider, "reason": f"Needed {reason}."})
        ])  # fmt: skip

    def key_stopped(self, provider: str, state: str, event: ToolEvent | None, goal: str) -> Reply:
        title = _TITLES[provider]
        if state == "cancelled":
            return Reply(text=(
                f"Without a {title} I can't {goal}, so I stopped here. Add one whenever "
                f"you are ready (`kriptik keys add {provider}`, or enter it when I next ask) and "
                "ask me again."
            ))  # fmt: skip
        why = event.text if event else "it was refused"
        return Reply(text=f"Your {title} was not stored: {why} Nothing more was done.")

    def settled_failure(self, e: ToolEvent, what: str, *, created: bool = False) -> Reply | None:
        """A failed call: the reply that explains it, or None to call again (it failed in
        an earlier turn and the user asked again, or a key was entered since)."""
        if not e.this_turn:
            return None
        if any(x.tool == "request_api_key" and x.outcome == "ok" for x in self.t.since(e.seq)):
            return None
        if "so the user can approve the new plan" in e.text:  # the plan moved: ask once more
            if sum(1 for x in self.t.events if x.tool == e.tool and x.this_turn) == 1:
                return None
        return Reply(text=words.failed(what, e.text, created=created))

    # ---- stages -------------------------------------------------------------------------
    def inspect_workflow(self) -> Reply | None:
        """An attached ComfyUI workflow: read what it needs; stop with what the user must
        supply (their answers, "FILE is owner/repo/path", are sent back with it), else go
        on as for a model (its endpoint's card prices it)."""
        wid = self.t.workflow_id
        done = self.t.last("inspect_workflow", ok=True, workflow=wid)
        if done is None:
            bad = self.t.last("inspect_workflow", workflow=wid)
            if bad is not None and (stop := self.settled_failure(bad, "Reading the workflow")):
                return stop
            calls = [self.call("inspect_workflow", {"workflow": wid})]
            if self.key("runpod")[0] is None:
                calls.append(self.call("check_credential", {"provider": "runpod"}))
            return Reply(text=words.WORKFLOW_OPENING, calls=calls)
        data = done.data
        asks = [str(a) for a in as_list(data.get("ask_user"))]
        answers = words.workflow_answers(self.t.text)
        if asks and answers and not (done.this_turn and done.args.get("answers")):
            return Reply(text="Recording your answers and reading the workflow again.", calls=[
                self.call("inspect_workflow", {"workflow": wid, "answers": answers})
            ])  # fmt: skip
        if asks:
            return Reply(text=words.workflow_asks(asks))
        self.repo = str(data.get("deploy_as") or "")
        self.gpu = {"pool": "auto", "gpu_count": 1, "fits": True, "pool_label": data.get("gpu"),
                    "usd_per_hour_running": data.get("usd_per_hour")}  # fmt: skip
        self.worker = {"needs_build": True}
        return None

    def inspect(self) -> Reply | None:
        done = self.t.last("inspect_model", ok=True, repo_id=self.repo)
        if done is not None:
            self.model = done.data
            return None
        bad = self.t.last("inspect_model", repo_id=self.repo)
        if bad is not None and bad.this_turn:
            if "is gated" in bad.text:
                return self.gated(bad)
            if (
                stop := self.settled_failure(bad, f"Reading {self.repo} on Hugging Face")
            ) is not None:
                return stop
        calls = [self.call("inspect_model", {"repo_id": self.repo})]
        if (
            self.t.intent in ("deploy", "app")
            and self.target == "runpod"
            and self.key("runpod")[0] is None
        ):
            calls.append(self.call("check_credential", {"provider": "runpod"}))
        opening = (
            words.OPENING[self.t.intent].format(repo=self.repo)
            if self.target == "runpod" or self.t.intent == "size"
            else words.target_opening(self.target, self.repo)
        )
        return Reply(text=opening, calls=calls)

    def gated(self, failure: ToolEvent) -> Reply:
        state, event = self.key("huggingface", since=failure.seq)
        inspect = self.call("inspect_model", {"repo_id": self.repo})
        if state == "stored":
            return Reply(
                text="Your Hugging Face token is stored. Reading the model again.", calls=[inspect]
            )
        if state is None:
            return Reply(text=(
                f"{self.repo} is gated on Hugging Face: reading its files needs the token of an "
                "account that accepted its licence. Checking whether you have a token stored."
            ), calls=[self.call("check_credential", {"provider": "huggingface"})])  # fmt: skip
        if state in ("missing", "rejected"):
            return self.ask_key("huggingface", f"to read {self.repo}, which is gated")
        if state in ("cancelled", "refused"):
            return self.key_stopped(
                "huggingface", state, event, f"read {self.repo}, which is gated"
            )
        return Reply(text=words.failed(f"Reading {self.repo}", failure.text) + (
            " Your token is stored, so its account still has to be granted access: accept the "
            "licence on the model's page while signed in, then ask me again."
        ))  # fmt: skip

    def runpod_key(self) -> Reply | None:
        if self.target != "runpod":
            return None  # another target's key is checked by its approval card
        state, event = self.key("runpod")
        if state in ("valid", "stored") and event is not None:
            self.key_seq = event.seq
            return None
        if state is None:
            return Reply(text="Checking your RunPod API key.", calls=[
                self.call("check_credential", {"provider": "runpod"})
            ])  # fmt: skip
        if state in ("missing", "rejected"):
            lead = words.model_line(self.model) + " " if self.model else ""
            lead += "RunPod rejected the stored key, so " if state == "rejected" else ""
            return self.ask_key(
                "runpod", "to price GPUs on your account and create the endpoint", lead
            )
        return self.key_stopped("runpod", state or "", event, "create the endpoint")

    def size_args(self) -> dict[str, Any]:
        """estimate_vram / choose_gpu arguments: the context the deployment would use (an
        LLM's up to 8,192 tokens, as the pipeline sizes it; an embedder's 512)."""
        m = self.model
        args: dict[str, Any] = {"repo_id": self.repo, "dtype": "bf16"}
        if m.get("quantization") not in (None, "none"):
            args["dtype"] = "auto"  # keep the checkpoint's own quantized weights
        longest = m.get("max_context")
        if m.get("task") in _GENERATIVE:
            args["context_tokens"] = min(longest or 8192, 8192)
        elif isinstance(longest, int) and (m.get("task") in _EMBEDDING or longest < 4096):
            args["context_tokens"] = min(longest, 512)
        return args

    def size_up(self) -> Reply | None:
        estimate = self.t.last("estimate_vram", ok=True, repo_id=self.repo)
        gpu = self.t.last("choose_gpu", ok=True, repo_id=self.repo)
        if gpu is not None and gpu.seq < self.key_seq:
            gpu = None  # priced before the RunPod key was in: price it on the user's account
        for tool, done in (("estimate_vram", estimate), ("choose_gpu", gpu)):
            bad = self.t.last(tool, ok=False, repo_id=self.repo)
            if bad is not None and (done is None or bad.seq > done.seq):
                if (stop := self.settled_failure(bad, f"Sizing {self.repo}")) is not None:
                    return stop
        # Another target prices its own GPUs on the approval card: no RunPod pool to choose.
        needed = (("estimate_vram", estimate), ("choose_gpu", gpu))[
            : 1 if self.target != "runpod" else 2
        ]
        if all(done is not None for _, done in needed):
            self.vram = estimate.data if estimate else {}
            self.gpu = gpu.data if gpu and self.target == "runpod" else {}
            return None
        args = self.size_args()
        calls = [self.call(t, args) for t, done in needed if done is None]
        if self.t.intent == "size":  # the answer itself describes the model
            text = "Estimating its GPU memory and the price of a GPU that holds it."
        elif self.t.last("request_api_key", provider="runpod") is not None:
            text = "Your RunPod API key is stored. Sizing the model now."
        else:
            text = words.model_line(self.model)
        return Reply(text=text, calls=calls)

    def prepare(self) -> Reply | None:
        if self.target != "runpod":
            return None  # the target's workflow builds (Cloud Run) or serves (Hugging Face) it
        if not self.gpu.get("fits"):
            return Reply(text=f"{words.vram_line(self.vram)} {words.gpu_line(self.gpu)} "
                              "So I can't deploy it as asked; nothing was created.")  # fmt: skip
        done = self.t.last("build_dockerfile", ok=True, repo_id=self.repo)
        if done is not None:
            self.worker = done.data
            return None
        bad = self.t.last("build_dockerfile", repo_id=self.repo)
        if bad is not None and (
            stop := self.settled_failure(bad, f"Planning a deployment of {self.repo}")
        ):
            if "cannot serve" in bad.text:  # a kind of model KripTik has no worker for
                return Reply(text=f"{stop.text} {words.SERVABLE}")
            return stop
        text = (f"{words.vram_line(self.vram)} {words.gpu_line(self.gpu)} Next I'll prepare the "
                "worker that serves it; nothing is created at RunPod yet.")  # fmt: skip
        return Reply(text=text, calls=[self.call("build_dockerfile", {"repo_id": self.repo})])

    def create(self) -> Reply | None:
        e = self.t.last("create_runpod_endpoint", repo_id=self.repo)
        if (
            e is not None
            and e.outcome == "ok"
            and (e.this_turn or e.data.get("state") not in _STOPPED)
        ):
            self.report, self.create_seq = e.data, e.seq
            return None
        if e is not None and (asked := self.target_key(e)) is not None:
            if asked is not True:
                return asked
            e = None  # the key is stored now: plan and ask for approval again
        if e is not None and e.outcome == "denied" and e.this_turn:
            return Reply(
                text=words.denied(
                    e.text,
                    "create the endpoint",
                    "Nothing was created at RunPod and nothing is billing.",
                )
            )
        args = {"repo_id": self.repo, "pool": self.gpu.get("pool"),
                "gpu_count": int(self.gpu.get("gpu_count") or 1), "workers_min": 0, "workers_max": 1}  # fmt: skip
        if self.t.workflow_id:
            args["workflow_id"] = self.t.workflow_id
        if self.target != "runpod":  # the target's own catalog picks its GPU
            args |= {"pool": "auto", "gpu_count": 1, "target": self.target}
        if e is not None and e.outcome == "error":
            count = re.search(r"needs gpu_count=(\d+)", e.text)
            tries = sum(1 for x in self.t.events if x.tool == e.tool and x.this_turn)
            if count is not None and e.this_turn and tries == 1:
                args["gpu_count"] = int(count.group(1))
                return Reply(text=f"That pool needs {count.group(1)} GPUs per worker; asking again with that.",
                             calls=[self.call("create_runpod_endpoint", args)])  # fmt: skip
            if (
                stop := self.settled_failure(e, f"Creating the RunPod endpoint for {self.repo}")
            ) is not None:
                return stop
        if self.target != "runpod":
            text = f"{words.vram_line(self.vram)} {words.target_price_line(self.target, self.repo)}"
            return Reply(text=text, calls=[self.call("create_runpod_endpoint", args)])
        built = self.worker.get("needs_build")
        how = ("It needs a worker image, built here and pushed to your registry first. " if built
               else "It runs on RunPod's prebuilt vLLM image, so nothing needs building. ")  # fmt: skip
        return Reply(text=how + words.price_line(self.gpu, self.repo),
                     calls=[self.call("create_runpod_endpoint", args)])  # fmt: skip

    def target_key(self, e: ToolEvent) -> Reply | Literal[True] | None:
        """A create this turn refused for want of the target's key (its card says to call
        request_api_key): ask for the key as for RunPod's. True once it is stored (create
        again); None when the refusal was not about that key."""
        provider = _TARGET_KEYS.get(self.target)
        if provider is None or e.outcome == "ok" or not e.this_turn:
            return None
        if f"request_api_key with provider '{provider}'" not in e.text:
            return None
        state, event = self.key(provider, since=e.seq)
        where = words.TARGET_TITLES[self.target]
        if state == "stored":
            return True
        if state is None:
            return self.ask_key(provider, f"to deploy {self.repo} on {where}")
        return self.key_stopped(provider, state, event, f"deploy {self.repo} on {where}")

    def ready(self) -> Reply | None:
        latest, checks = self.report, 0
        for e in self.t.since(self.create_seq):
            if e.tool == "get_deployment_status" and e.outcome == "ok":
                latest, checks = e.data, checks + 1
        state, ident = latest.get("state"), latest.get("endpoint_id") or latest.get("deployment_id")
        if state == "ready":
            self.report = latest
            return None
        if state in _STOPPED:
            where = ("KripTik scales a failed endpoint to zero workers" if latest.get("endpoint_id")
                     else "No endpoint was created, so nothing is running")  # fmt: skip
            return Reply(text=(
                f"The deployment of {self.repo} did not come up ({state}): "
                f"{str(latest.get('message') or 'no reason was given').strip()} {where}; "
                f"`kriptik deployments teardown {latest.get('deployment_id')}` removes whatever "
                "it left behind."
            ))  # fmt: skip
        if checks >= _MAX_STATUS_CHECKS:
            return Reply(text=(
                f"Endpoint {ident} is still {state} (stage: {latest.get('stage')}). It carries on "
                "in the background; ask me for its status in a minute."
            ))  # fmt: skip
        return Reply(text=f"Endpoint {ident} is {state} (stage: {latest.get('stage')}); checking on it.",
                     calls=[self.call("get_deployment_status", {"endpoint_id": str(ident)})])  # fmt: skip
