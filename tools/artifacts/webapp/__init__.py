"""Generated web apps around a RunPod endpoint: an LLM chat page (streaming), an image
prompt box and gallery, a 3D or video job page (`<model-viewer>` / `<video>`), or a generic
JSON form. Each is a static front end plus one serverless function, `api/infer`, that
holds the RunPod key server-side; it runs on Vercel, on Netlify and locally
(`node dev-server.mjs`) unchanged.

    endpoint = EndpointInfo(endpoint_id="abc123", model_id="Qwen/Qwen2.5-0.5B-Instruct",
                            openai_compatible=True)
    app = render_app(AppSpec(kind="llm", project="qwen-chat", title="Qwen chat", endpoint=endpoint))
    app.write_to(Path("qwen-chat"))
"""

from tools.artifacts.webapp.envfile import (
    EnvFileError,
    local_env_text,
    write_local_env,
    write_local_project,
)
from tools.artifacts.webapp.render import MODEL_VIEWER, GeneratedApp, render_app, tree_digest
from tools.artifacts.webapp.spec import AppKind, AppSpec, MediaKind, check_project_name

__all__ = [
    "MODEL_VIEWER",
    "AppKind",
    "AppSpec",
    "EnvFileError",
    "GeneratedApp",
    "MediaKind",
    "check_project_name",
    "local_env_text",
    "render_app",
    "tree_digest",
    "write_local_env",
    "write_local_project",
]
