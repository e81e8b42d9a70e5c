"""Render an `AppSpec` into the generated project's file tree.

```
public/index.html  page for the kind (jinja, HTML autoescape; config as JSON in a script tag)
public/app.js      the kind's script, public/common.js, styles.css, favicon.svg (verbatim)
api/infer.js       the one serverless function (holds the endpoint's key: ENV_NAMES; config
                   as one JSON line)
netlify/functions/infer.js, netlify.toml, vercel.json, package.json, dev-server.mjs
clients/           Python and TypeScript clients (tools.artifacts.client)
README.md, .env.example (names, no values), .gitignore (.env)
```

Rendering is pure and deterministic: the same spec gives byte-identical files, which is
what makes publishing idempotent (same tree, same git tree SHA, same upload digests).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from tools.artifacts._jinja import template_environment
from tools.artifacts.client import ServingTarget, render_clients
from tools.artifacts.webapp.spec import AppSpec

if TYPE_CHECKING:  # jinja2 is imported when the first environment is built
    from jinja2 import Environment

__all__ = ["ENV_NAMES", "MODEL_VIEWER", "GeneratedApp", "render_app", "tree_digest"]

_TEMPLATES = Path(__file__).parent / "templates"
# Pinned and integrity-checked: the browser refuses the file if the CDN ever serves other bytes.
MODEL_VIEWER = {
    "src": "https://cdn.jsdelivr.net/npm/@google/model-viewer@4.1.0/dist/model-viewer.min.js",
    "integrity": "sha384-T4vc5AP9W2o3EVVQC6Is5mbKqFE2eysxg1XHwaZLquK0SjtY+4cLHoN3j1mK/MmB",
}
_STATIC = {  # template path -> project path, copied verbatim
    "project/dev-server.mjs": "dev-server.mjs",
    "project/netlify.toml": "netlify.toml",
    "project/vercel.json": "vercel.json",
    "project/gitignore.txt": ".gitignore",
    "project/netlify/functions/infer.js": "netlify/functions/infer.js",
    "project/public/common.js": "public/common.js",
    "project/public/styles.css": "public/styles.css",
    "project/public/favicon.svg": "public/favicon.svg",
}
_BLURB = {
    "llm": "A chat app",
    "image": "An image generation app",
    "model3d": "A 3D model generation app",
    "video": "A video generation app",
    "generic": "A JSON-in, JSON-out app",
    "workflow": "A ComfyUI workflow app",
}
# How the page and README name where the model runs, per target.
_SERVING: dict[ServingTarget, dict[str, str]] = {
    "runpod": {"label": "RunPod Serverless", "link": "https://www.runpod.io/serverless-gpu",
               "noun": "endpoint", "provider": "RunPod",
               "scaling": "Workers scale to zero when idle."},
    "huggingface": {"label": "Hugging Face Inference Endpoint", "provider": "Hugging Face",
                    "link": "https://huggingface.co/docs/inference-endpoints", "noun": "",
                    "scaling": "It scales to zero when idle, and wakes up on the next request."},
    "cloudrun": {"label": "Google Cloud Run", "link": "https://cloud.google.com/run",
                 "noun": "service", "provider": "Google Cloud",
                 "scaling": "Instances scale to zero when idle."},
    "sagemaker": {"label": "Amazon SageMaker", "link": "https://aws.amazon.com/sagemaker/",
                  "noun": "endpoint", "provider": "AWS",
                  "scaling": "It keeps its instance, and bills every hour, until torn down."},
}  # fmt: skip
# The function's two required variables, per target: the credential, then where to call.
ENV_NAMES: dict[ServingTarget, tuple[str, str]] = {
    "runpod": ("RUNPOD_API_KEY", "RUNPOD_ENDPOINT_ID"),
    "huggingface": ("HF_TOKEN", "HF_ENDPOINT_URL"),
    "cloudrun": ("GCP_SERVICE_ACCOUNT_JSON", "CLOUD_RUN_URL"),
    # Never AWS_*: Vercel and Netlify (on AWS Lambda) set those to keys of their own.
    "sagemaker": ("SAGEMAKER_SECRET_ACCESS_KEY", "SAGEMAKER_ENDPOINT_URL"),
}
_NETLIFY_REDIRECTS = b"/api/*  /.netlify/functions/:splat  200!\n"
_NETLIFY_HEADERS = (
    b"/*\n  X-Content-Type-Options: nosniff\n  Referrer-Policy: no-referrer\n"
    b"  X-Frame-Options: DENY\n"
)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


class GeneratedApp(BaseModel):
    """A rendered project: every file by relative path, and the views each host needs."""

    model_config = ConfigDict(frozen=True)

    spec: AppSpec
    files: dict[str, bytes]
    executable: frozenset[str] = frozenset({"dev-server.mjs"})

    @property
    def digest(self) -> str:
        """SHA-256 over every path and content: equal digests, identical projects."""
        return tree_digest(self.files)

    def browser_files(self) -> dict[str, bytes]:
        """What a browser can fetch: `public/`, by URL path ("index.html")."""
        return {
            p.removeprefix("public/"): b for p, b in self.files.items() if p.startswith("public/")
        }

    def vercel_files(self) -> dict[str, bytes]:
        """The deployment for Vercel: static files, the function, and its config."""
        keep = ("public/", "api/")
        extra = {"package.json", "vercel.json"}
        return {p: b for p, b in self.files.items() if p.startswith(keep) or p in extra}

    def netlify_files(self) -> dict[str, bytes]:
        """The published directory for a Netlify API deploy (the function goes separately)."""
        return self.browser_files() | {
            "_redirects": _NETLIFY_REDIRECTS,
            "_headers": _NETLIFY_HEADERS,
        }

    def netlify_function_zip(self) -> bytes:
        """`infer.js` zipped the way Netlify runs a Lambda-compatible function (deterministic)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            entry = zipfile.ZipInfo("infer.js", date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, self.files["api/infer.js"])
        return buffer.getvalue()

    def write_to(self, root: Path) -> list[Path]:
        """Write the project under `root` (created if missing); returns the files written."""
        written: list[Path] = []
        for rel, raw in sorted(self.files.items()):
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(raw)
            target.chmod(0o755 if rel in self.executable else 0o644)
            written.append(target)
        return written


def tree_digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 over every path and content of a file tree (equal digests, equal trees)."""
    h = hashlib.sha256()
    for path, raw in sorted(files.items()):
        h.update(f"{path}\0{len(raw)}\0".encode())
        h.update(raw)
    return h.hexdigest()


@cache
def _environment() -> Environment:
    # HTML pages escape every value; the JS/JSON/Markdown templates take values only
    # through `tojson` or `md()`, or as ids that were validated in the spec.
    from jinja2 import select_autoescape

    html_only = select_autoescape(enabled_extensions=("html.j2",), default=False)
    return template_environment(_TEMPLATES, autoescape=html_only)


def _markdown_text(value: str) -> str:
    """Plain text that Markdown shows as typed (no links, emphasis or HTML)."""
    text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # At the start of a line, "-", "+" or "1." would begin a list.
    return re.sub(r"^([-+]|\d+[.)])", r"\\\1", text)


def _markdown_cell(value: str | float | None) -> str:
    """A value in one Markdown table cell: one line, at most 60 characters, as typed."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    text = text if len(text) <= 60 else text[:59] + "…"
    # Inside a table cell "7." starts no list: only the inline specials are escaped.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _number_text(value: float | None) -> str:
    """A field's limit or default as an HTML number attribute ("" for none)."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _csp(spec: AppSpec) -> str:
    scripts = "'self' https://cdn.jsdelivr.net" if spec.media == "model3d" else "'self'"
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self'; "
        "img-src 'self' data: blob: https:; media-src 'self' data: blob: https:; "
        "connect-src 'self' data: blob: https:; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'"
    )


def _server_config(spec: AppSpec) -> dict[str, Any]:
    config: dict[str, Any] = {
        "kind": spec.kind,
        "mode": "openai" if spec.streams else "job",
        "model": spec.endpoint.model_id,
    }
    if spec.endpoint.target != "runpod":  # RunPod's line stays as it always was
        config["target"] = spec.endpoint.target
    if spec.endpoint.region is not None:  # what SigV4 signs with, unless SAGEMAKER_REGION says
        config["region"] = spec.endpoint.region
    if spec.endpoint.serving == "worker":  # our worker's job input, not TGI's request shape
        config["serving"] = "worker"
    if spec.endpoint.inference_component is not None:  # scales to zero: name the component
        config["component"] = spec.endpoint.inference_component
    return config


def _context(spec: AppSpec) -> dict[str, Any]:
    browser: dict[str, Any] = {
        "kind": spec.kind,
        "title": spec.title,
        "model": spec.endpoint.model_id,
        "streams": spec.streams,
        "media": spec.media,
        "exampleInput": spec.example_input or {"prompt": "Hello"},
    }
    if spec.media == "model3d":
        browser["modelViewer"] = MODEL_VIEWER
    if spec.endpoint.target != "runpod":  # a RunPod page stays byte-identical
        browser["target"] = spec.endpoint.target
    if spec.kind == "workflow":
        browser["fields"] = [f.model_dump() | {"seed": f.is_seed} for f in spec.fields]
    return {
        "spec": spec,
        "md": _markdown_text,
        "number": _number_text,
        "md_cell": _markdown_cell,
        "csp": _csp(spec),
        "browser_config": browser,
        "server_config": _server_config(spec),
        "serving": _SERVING[spec.endpoint.target],
        "env_names": ENV_NAMES[spec.endpoint.target],
        "short_model": spec.endpoint.model_id.split("/", 1)[1],
        "kind_blurb": _BLURB[spec.media or spec.kind],
    }


def render_app(spec: AppSpec) -> GeneratedApp:
    """The complete project for `spec` (pure: no I/O besides reading templates)."""
    env, context = _environment(), _context(spec)
    rendered = {
        "public/index.html": f"pages/{spec.kind}.html.j2",
        "api/infer.js": "api/infer.js.j2",
        "package.json": "package.json.j2",
        "README.md": "README.md.j2",
        ".env.example": "env.example.j2",
    }
    files = {
        path: env.get_template(name).render(context).encode() for path, name in rendered.items()
    }
    files |= {dst: (_TEMPLATES / src).read_bytes() for src, dst in _STATIC.items()}
    files["public/app.js"] = (_TEMPLATES / "scripts" / f"{spec.kind}.js").read_bytes()
    workflow = spec.fields if spec.kind == "workflow" else None
    files |= render_clients(
        spec.endpoint, example_input=spec.example_input, workflow_fields=workflow
    )
    return GeneratedApp(spec=spec, files=dict(sorted(files.items())))
