"""The web hosts' edge, simulated: `*.vercel.app` and `*.netlify.app` served from the fakes, loopback passed through, every other host refused.

`kriptik demo` gives its one `httpx.AsyncClient` this transport (`transport=WebEdge(stack)`,
so httpx ignores proxy variables too): whatever code runs, no request leaves the machine.
Any host but loopback and the two web hosts fails with `httpx.ConnectError`, unsent.

An app is what its host's fake holds: the newest READY Vercel deployment whose URL or alias
is the host (none after its project was deleted: Vercel's 404), or the Netlify site (or
permalink `deploy--site`) and its newest ready deploy. `/` is `index.html`, other paths their
file, anything else 404. `/api/infer` runs the generated function (`templates/api/infer.js.j2`)
SIMULATED in Python, so no Node.js is needed: its `APP` config read from the deployed source,
its env vars from the project or site, its calls sent with the credential it holds to its
target's fake (RunPod's job fake, a Hugging Face endpoint's inference URL, a private Cloud Run
service with an ID token minted at the Google OAuth fake, a SageMaker endpoint's InvokeEndpoint
on the AWS fake signed with SigV4), and its own answers, errors and status codes. A chat
streams the upstream's `chat/completions` reply (a short echo of the last message), as it
comes on Vercel, whole on Netlify, whose Lambda-style functions cannot stream.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import zipfile

import httpx

from tools.simulator._edge_function import (
    APP_CONFIG,
    LOOPBACK,
    AppFunction,
    HttpError,
    Site,
    as_object,
    not_found,
    payload_of,
    reply_json,
    static_file,
)
from tools.simulator._edge_sagemaker import SageMakerFunction
from tools.simulator._edge_targets import TargetFunction, Upstreams
from tools.simulator.all import FakeStack

__all__ = ["WebEdge"]


class WebEdge(httpx.AsyncBaseTransport):
    """Loopback through, `*.vercel.app` and `*.netlify.app` from the fakes, the rest refused."""

    def __init__(self, stack: FakeStack) -> None:
        self.stack = stack
        self.inner = httpx.AsyncHTTPTransport()
        # The Cloud Run function's ID tokens and the SageMaker function's role sessions,
        # kept across requests as one warm instance does.
        self.id_tokens: dict[str, tuple[str, float]] = {}
        self.sessions: dict[str, tuple[str, str, str, float]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in LOOPBACK:
            return await self.inner.handle_async_request(request)
        if host.endswith(".vercel.app"):
            site = self._vercel(host)
        elif host.endswith(".netlify.app"):
            site = self._netlify(host)
        else:
            refused = f"the simulator reaches only loopback: refused {host}"
            raise httpx.ConnectError(refused, request=request)
        if site is None:
            return not_found(host.rsplit(".", 2)[-2], deployment=True)
        if request.url.path not in site.routes:
            return static_file(site, request)
        if site.function is None:  # No function deployed: the path is just a missing page.
            return not_found(site.host, deployment=False)
        return await self.run_function(site, request)

    async def run_function(self, site: Site, request: httpx.Request) -> httpx.Response:
        """The deployed function's answer to `request`, its refusals worded as it words them."""
        try:
            return await self._function(site, request)
        except HttpError as err:
            body = {"error": str(err)} | ({"code": err.code} if err.code else {})
            return reply_json(err.status, body, err.headers)

    async def _function(self, site: Site, request: httpx.Request) -> httpx.Response:
        """The function's `handle`: method, settings, passcode, then the route."""
        if request.method not in ("GET", "POST"):
            raise HttpError(405, "method", headers={"allow": "GET, POST"})
        token_url = self.stack.url("google_oauth") + "/token"
        up = Upstreams(self.stack.url("runpod_jobs"), token_url, self.inner, self.id_tokens,
                       aws_url=self.stack.url("aws"), sessions=self.sessions)  # fmt: skip
        fn = load_function(site, up)
        # Digests compared in constant time, as the function does, so timing tells nothing.
        given, expected = (hashlib.sha256(t.encode()).digest()
                           for t in (request.headers.get("x-app-passcode", ""), fn.passcode))  # fmt: skip
        if fn.passcode and not hmac.compare_digest(given, expected):
            raise HttpError(401, "passcode", code="passcode")
        if request.method == "GET":
            return await fn.get(request.url.params)
        payload = payload_of(await request.aread())
        if "chat" in payload:
            return await fn.chat(payload["chat"], stream=site.host == "vercel")
        if "input" in payload:
            return await fn.run(payload["input"])
        raise HttpError(400, "job_or_chat" if fn.app.get("mode") == "openai" else "job")

    def _vercel(self, host: str) -> Site | None:
        state = self.stack.vercel.state
        # Copies first: the fake's server thread may be adding to these dicts right now.
        live = [d for d in list(state.deployments.values())
                if d["readyState"] == "READY" and host in (d["url"], *d.get("alias", []))]  # fmt: skip
        if not live:
            return None
        dep = live[-1]  # The newest READY deployment holds the alias, as on Vercel.
        # Our publisher sends every file by digest; inline `data` files are not ours to serve.
        files = {f["file"]: state.files[f["sha"]] for f in dep["_files"] if "sha" in f}
        owner = [p for p in list(state.projects.values()) if p["name"] == dep["name"]]
        env = {k: str(v["value"]) for p in owner for k, v in p["_env"].items()}
        # vercel.json's outputDirectory is public/; api/infer.js is the function.
        pages = {p[6:]: raw for p, raw in files.items() if p.startswith("public/")}
        return Site("vercel", pages, files.get("api/infer.js"), frozenset({"/api/infer"}), env)

    def _netlify(self, host: str) -> Site | None:
        fake = self.stack.netlify
        deploy_id, _, name = host.removesuffix(".netlify.app").rpartition("--")  # a permalink
        site = next((s for s in list(fake.state.sites.values()) if s["name"] == name), None)
        ready = [d for d in list(fake.state.deploys.values()) if site and d["site_id"] == site["id"]
                 and d["state"] == "ready" and deploy_id in ("", d["id"])]  # fmt: skip
        if site is None or not ready:
            return None
        dep = ready[-1]  # The newest ready deploy is the one the site publishes.
        files = {p: fake.state.files[sha] for p, sha in dep["_paths"].items()}
        zipped = fake.functions.get(dep.get("_functions", {}).get("infer", ""))
        function = zipfile.ZipFile(io.BytesIO(zipped)).read("infer.js") if zipped else None
        env: dict[str, str] = {}
        for (site_id, key), var in list(fake.env.items()):
            # A secret holds one value per context; a plain variable one for "all".
            values = {v.get("context"): v.get("value") for v in var.get("values", [])}
            if site_id == site["id"]:
                env[key] = str(values.get("production", values.get("all", "")))
        # The generated _redirects sends /api/* to /.netlify/functions/:splat.
        routes = frozenset({"/api/infer", "/.netlify/functions/infer"})
        return Site("netlify", files, function, routes, env)

    async def aclose(self) -> None:
        await self.inner.aclose()


def load_function(site: Site, up: Upstreams) -> AppFunction | TargetFunction | SageMakerFunction:
    """The deployed function for its target (`APP.target`, RunPod when absent)."""
    match = APP_CONFIG.search((site.function or b"").decode())
    if match is None:  # The module would not load: the host answers with its 500.
        raise HttpError(500, "crash")
    app = as_object(json.loads(match.group(1)))
    target = app.get("target") or "runpod"
    if target == "sagemaker":
        return SageMakerFunction(app, site.env, up)
    if target in ("huggingface", "cloudrun"):
        return TargetFunction(app, str(target), site.env, up)
    return AppFunction(site, up.jobs_url, up.transport)
