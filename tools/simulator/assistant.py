"""The simulated LLM's brain: from a chat-completions request to the next reply, playing a
believable KripTik assistant for `kriptik demo` and the tests.

It reads the request like a model would: the user's latest message (a Hugging Face repo
id, and whether they want a size and price, an API endpoint, a web app, a status or a
teardown), and every tool result since (`_chat_transcript`). It then takes the next step
of the product's own flow (prompts/pipeline.md):

```
inspect_model (+ check_credential runpod) -> request_api_key when a key is missing
-> estimate_vram + choose_gpu -> build_dockerfile -> create_runpod_endpoint (approval)
-> get_deployment_status until ready -> answer with the endpoint id and URLs
   (web app: check_credential github + vercel -> request_api_key -> push_to_github
    (approval) -> deploy_vercel (approval) -> one line: the chat shows the deploy's summary)
size question: inspect_model -> estimate_vram + choose_gpu -> answer; nothing created
```

Every sentence is built from the numbers and ids the tools returned. A denied approval, a
cancelled key question or a failed tool ends the turn with what happened and what the user
can do; it never claims a success it did not see. It only calls tools the request offers.
It is a pure function of the request: the same request gets the same reply, and nothing is
kept between requests, so one server serves many users at once.
"""

from __future__ import annotations

import re
from typing import Any, Final

from tools.simulator import _assistant_words as words
from tools.simulator._assistant_flow import Flow, Unavailable
from tools.simulator._chat_transcript import ToolEvent, as_dict, as_list, read_transcript
from tools.simulator.llm import Reply

__all__ = ["answer"]

# A turn that has taken this many steps without finishing stops, rather than loop.
_MAX_STEPS: Final = 24
_HOSTS: Final = {"vercel": ("deploy_vercel", "project_name", "Vercel", "vercel.app"),
                 "netlify": ("deploy_netlify", "site_name", "Netlify", "netlify.app")}  # fmt: skip


def app_name(repo: str) -> str:
    """A name for the app's repo and site: lowercase letters, digits, single hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", repo.rsplit("/", 1)[-1].lower()).strip("-")
    return f"{slug[:58].rstrip('-') or 'model'}-app"


class _Turn(Flow):
    """The GPU stages (`Flow`), plus the web app, status and teardown."""

    def host(self) -> str:
        wants_netlify = "netlify" in self.t.text.lower() and "deploy_netlify" in self.t.tools
        return "netlify" if wants_netlify or "deploy_vercel" not in self.t.tools else "vercel"

    def endpoint(self) -> str:
        return str(self.report.get("endpoint_id") or self.report.get("deployment_id"))

    def web_keys(self) -> Reply | None:
        providers = ("github", self.host())
        unknown = [p for p in providers if self.key(p)[0] is None]
        if unknown:
            text = (f"Endpoint {self.endpoint()} is ready. Now the web app: checking your "
                    f"GitHub and {_HOSTS[providers[1]][2]} keys.")  # fmt: skip
            return Reply(
                text=text, calls=[self.call("check_credential", {"provider": p}) for p in unknown]
            )
        reasons = {"github": "to push the web app's code to a private repository on your account",
                   "vercel": "to host the web app on your Vercel account",
                   "netlify": "to host the web app on your Netlify account"}  # fmt: skip
        for provider in providers:
            state, event = self.key(provider)
            if state in ("missing", "rejected"):
                return self.ask_key(provider, reasons[provider])
            if state in ("cancelled", "refused"):
                stop = self.key_stopped(provider, state, event, "publish the web app")
                return Reply(text=stop.text + f" Endpoint {self.endpoint()} stays up and costs "
                             "nothing while idle.")  # fmt: skip
        return None

    def push(self) -> Reply | None:
        e = self.t.last("push_to_github", endpoint_id=self.endpoint())
        if e is not None and e.outcome == "ok":
            return None
        after = f"No GitHub repository was made; endpoint {self.endpoint()} stays up (nothing while idle)."
        if e is not None and e.outcome == "denied" and e.this_turn:
            return Reply(text=words.denied(e.text, "push the app to GitHub", after))
        if e is not None and (stop := self.settled_failure(e, "Pushing the app to GitHub")):
            return stop
        name = app_name(self.repo)
        text = (f"Next, the web app: I'll push its code to a private GitHub repository, {name} "
                "(free; no secrets are in it). Approve the card to push it.")  # fmt: skip
        args = {"endpoint_id": self.endpoint(), "repo_name": name}
        return Reply(text=text, calls=[self.call("push_to_github", args)])

    def publish(self) -> Reply | None:
        tool, arg, label, domain = _HOSTS[self.host()]
        e = self.t.last(tool, endpoint_id=self.endpoint())
        if e is not None and e.outcome == "ok":
            return None
        pushed = self.t.last("push_to_github", ok=True, endpoint_id=self.endpoint())
        code = str(pushed.data.get("html_url")) if pushed else "GitHub"
        if e is not None and e.outcome == "denied" and e.this_turn:
            return Reply(
                text=words.denied(
                    e.text, f"host the app on {label}", f"The code is on {code}; nothing is hosted."
                )
            )
        if e is not None and (stop := self.settled_failure(e, f"Deploying the app to {label}")):
            return stop
        name = app_name(self.repo)
        text = (f"The code is on GitHub: {code}. Last step: host it on {label} at "
                f"https://{name}.{domain} (free on their starter plan; each request from the app "
                "runs a short job on your endpoint). Approve the card to deploy it.")  # fmt: skip
        return Reply(
            text=text, calls=[self.call(tool, {"endpoint_id": self.endpoint(), arg: name})]
        )

    def app_answer(self) -> Reply:
        tool = _HOSTS[self.host()][0]
        web = self.t.last(tool, ok=True, endpoint_id=self.endpoint())
        data: dict[str, Any] = web.data if web else {}
        check: dict[str, Any] = data.get("check") or {}
        # The chat shows the deploy's summary itself (every URL, the price, how to stop it):
        # as the prompt asks, one line, and what to try when the check failed.
        if check and not check.get("passed"):
            return Reply(text=f"The app is deployed, but its check failed ({check.get('why')}): "
                              "see the summary above for what to try.")  # fmt: skip
        if not web:
            return Reply(text="The app is not deployed.")
        return Reply(text="Your app is live: the summary above has its links and costs.")

    def deploy_answer(self) -> Reply:
        """With a web app, one line (the summary above names the endpoint too); without
        one, the endpoint itself: its id, URLs, cost and how to stop it."""
        if self.t.last(_HOSTS[self.host()][0], ok=True, endpoint_id=self.endpoint()):
            return self.app_answer()
        return Reply(text=words.deploy_done(self.report, self.repo))

    def size_answer(self) -> Reply:
        return Reply(text=words.sizing_answer(self.model, self.vram, self.gpu))

    # ---- an existing deployment ----------------------------------------------------------
    def deployment(self) -> dict[str, Any] | None:
        """The deployment the user means: one named in their message, else the latest this
        conversation made (for the repo they named, if any)."""
        reports = [e.data for e in self.t.history if e.outcome == "ok" and e.data.get("deployment_id")
                   and e.tool in ("create_runpod_endpoint", "get_deployment_status")]  # fmt: skip
        named = [r for r in reports if str(r.get("endpoint_id")) in self.t.text
                 or str(r.get("deployment_id")) in self.t.text]  # fmt: skip
        return (named or reports or [None])[-1]

    def this_turn(self, tool: str) -> ToolEvent | None:
        return next((e for e in reversed(self.t.history) if e.tool == tool and e.this_turn), None)

    def status(self) -> Reply:
        found = self.deployment()
        if found is None:
            return Reply(text="I don't see a deployment in this conversation. Name its endpoint "
                              "id, or list yours with /deployments.")  # fmt: skip
        e = self.this_turn("get_deployment_status")
        if e is None:
            ident = str(found.get("endpoint_id") or found.get("deployment_id"))
            return Reply(text=f"Checking endpoint {ident}.",
                         calls=[self.call("get_deployment_status", {"endpoint_id": ident})])  # fmt: skip
        if e.outcome != "ok":
            return Reply(text=words.failed("Checking the deployment", e.text))
        d = e.data
        note = d.get("message") if d.get("message") not in (None, d.get("state")) else ""
        return Reply(text=(
            f"Endpoint {d.get('endpoint_id')} is {d.get('state')} (stage: {d.get('stage')}), on "
            f"{d.get('pool')}: {words.usd_h(d.get('running_usd_per_hour'))} right now, "
            f"${float(d.get('cost_so_far_usd') or 0):.4f} so far. {note}"
        ).strip())  # fmt: skip

    def teardown(self) -> Reply:
        found = self.deployment()
        if found is None:
            return Reply(text="I don't see a deployment in this conversation to tear down. Name "
                              "its endpoint id, or list yours with /deployments.")  # fmt: skip
        ident = str(found.get("endpoint_id") or found.get("deployment_id"))
        e = self.this_turn("teardown")
        if e is None:
            text = (f"Tearing down endpoint {ident} deletes it and its template (and the web app "
                    "if there is one), which stops all billing; a GitHub repository is kept. "
                    "It is free. Approve the card to go ahead.")  # fmt: skip
            return Reply(text=text, calls=[self.call("teardown", {"endpoint_id": ident})])
        if e.outcome == "denied":
            return Reply(
                text=words.denied(
                    e.text, "tear it down", f"Nothing was deleted; endpoint {ident} stays up."
                )
            )
        if e.outcome == "error":
            return Reply(text=words.failed(f"Tearing down endpoint {ident}", e.text, created=True))
        removed = ", ".join(map(str, as_list(e.data.get("removed")))) or "nothing left to remove"
        notes = " ".join(map(str, as_list(e.data.get("notes"))))
        failure = as_dict(e.data.get("failure"))
        if failure:
            return Reply(text=(f"Teardown stopped part-way. Removed so far: {removed}. "
                               f"{failure.get('message')} {notes} Run it again once that is fixed.").strip())  # fmt: skip
        return Reply(text=f"Done. Removed: {removed}. {notes}".strip())

    def run(self) -> Reply:
        intent = self.t.intent
        if intent == "teardown":
            return self.teardown()
        if intent == "status":
            return self.status()
        if self.t.workflow_id and intent in ("deploy", "app"):
            return self.run_workflow()
        if not self.repo or intent == "help":
            return Reply(text=words.HELP)
        gpu = (self.inspect, self.runpod_key, self.size_up, self.prepare, self.create, self.ready)
        stages = {
            "size": ((self.inspect, self.size_up), self.size_answer),
            # An API is what was asked for; the product's flow also puts a small web app in
            # front of it, so the newcomer can try it (each step behind its own approval).
            "deploy": ((*gpu, self.web_keys, self.push, self.publish), self.deploy_answer),
            "app": ((*gpu, self.web_keys, self.push, self.publish), self.app_answer),
        }
        steps, last = stages[intent]
        for stage in steps:
            if (reply := stage()) is not None:
                return reply
        return last()

    def run_workflow(self) -> Reply:
        """An attached ComfyUI workflow: inspect it, get the RunPod key, create its endpoint
        (the card prices it), wait until ready, then the web app."""
        steps = (self.inspect_workflow, self.runpod_key, self.create, self.ready,
                 self.web_keys, self.push, self.publish)  # fmt: skip
        for stage in steps:
            if (reply := stage()) is not None:
                return reply
        return self.app_answer() if self.t.intent == "app" else self.deploy_answer()


def answer(body: dict[str, Any]) -> Reply:
    """The assistant's next reply to a chat-completions request body."""
    transcript = read_transcript(body)
    if transcript.steps_this_turn >= _MAX_STEPS:
        return Reply(text="This request has taken many steps without finishing, so I stopped "
                          "here. Tell me how you would like to go on.")  # fmt: skip
    try:
        return _Turn(transcript).run()
    except Unavailable as missing:
        return Reply(text=f"I can't go on: the {missing.tool} tool is not available in this chat, "
                          "so I stopped here. Nothing more was done.")  # fmt: skip
