"""ComfyUI's API as a ComfyUI worker's handler uses it (KripTik; a static file shipped beside
handler.py as /comfy_api.py): wait for ComfyUI, upload an input image, queue a prompt and
follow its websocket messages to the end, read its history and fetch its output files.

Every failure is a `JobError` whose message says what happened and what to do: a prompt
ComfyUI refuses (400 with `node_errors`) names each node and its error; an
`execution_error` names the node, its class and the exception.

Environment: COMFY_HOST (default 127.0.0.1:8188), KRIPTIK_COMFY_WAIT_S (how long ComfyUI
may take to answer, default 600), KRIPTIK_JOB_TIMEOUT_S (one prompt, default 3600).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Final, cast

# The image's websocket-client (pinned in requirements.txt), loaded by name: it ships no
# type information, and KripTik's own environment (which type-checks this file) lacks it.
websocket: Any = importlib.import_module("websocket")

COMFY_HOST: Final = os.environ.get("COMFY_HOST", "127.0.0.1:8188")
# ComfyUI imports every custom node before it listens: minutes on a cold start.
WAIT_S: Final = float(os.environ.get("KRIPTIK_COMFY_WAIT_S", "600"))
JOB_TIMEOUT_S: Final = float(os.environ.get("KRIPTIK_JOB_TIMEOUT_S", "3600"))
# The base image's start.sh writes ComfyUI's pid here: a dead ComfyUI is reported at once.
COMFY_PID_FILE: Final = Path("/tmp/comfyui.pid")  # noqa: S108 - the base image's own path
# The kinds of file a saving node lists in its history outputs.
OUTPUT_KEYS: Final = ("images", "gifs", "videos", "audio")
# ComfyUI is on loopback: never through a proxy from the environment.
_LOCAL: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class JobError(Exception):
    """A job that cannot run as asked; the message says what to change."""


def as_object(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (ComfyUI's answers vary a little
    between versions: a missing part is read as empty)."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return cast("list[Any]", value) if isinstance(value, list) else []


def _log(message: str) -> None:
    sys.stderr.write(f"kriptik-comfy: {message}\n")
    sys.stderr.flush()


# ---- ComfyUI's HTTP API ----------------------------------------------------------------


def _http(
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    """One request to ComfyUI: (status, body); an HTTP error status is returned, not raised."""
    request = urllib.request.Request(
        f"http://{COMFY_HOST}{path}", data=body, method=method, headers=headers or {}
    )
    try:
        with _LOCAL.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _comfy_exited() -> bool:
    try:
        pid = int(COMFY_PID_FILE.read_text(encoding="utf-8").strip())
        os.kill(pid, 0)
    except (OSError, ValueError) as err:
        return isinstance(err, ProcessLookupError)
    return False


def wait_for_comfy() -> None:
    """Return once ComfyUI answers /system_stats; JobError after WAIT_S or if it died."""
    deadline = time.monotonic() + WAIT_S
    why = "no answer"
    while True:
        try:
            status, _ = _http("GET", "/system_stats", timeout=5)
            if status == 200:
                return
            why = f"HTTP {status}"
        except OSError as err:
            why = str(getattr(err, "reason", None) or err)
        if _comfy_exited():
            raise JobError(
                "ComfyUI exited while starting: the worker log shows why (often a "
                "custom node that failed to import, or no GPU)"
            )
        if time.monotonic() >= deadline:
            raise JobError(
                f"ComfyUI did not answer at http://{COMFY_HOST}/system_stats "
                f"within {WAIT_S:g} s ({why}); the worker log shows why"
            )
        time.sleep(0.5)  # ComfyUI is another process: poll its port


def _multipart(field: str, filename: str, data: bytes, extra: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in extra.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def upload_image(name: str, data: bytes, extension: str) -> str:
    """Put an input image into ComfyUI's input folder; the name a LoadImage node takes."""
    filename = f"kriptik-{uuid.uuid4().hex[:12]}-{name}{extension}"
    body, boundary = _multipart("image", filename, data, {"type": "input", "overwrite": "true"})
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    status, answer = _http("POST", "/upload/image", body, headers=headers)
    if status != 200:
        raise JobError(f"ComfyUI refused the {name} image ({status}): {_snippet(answer)}")
    stored = json.loads(answer)
    folder = stored.get("subfolder") or ""
    return f"{folder}/{stored['name']}" if folder else str(stored["name"])


def _snippet(data: bytes) -> str:
    return data.decode("utf-8", "replace").strip()[:300]


# ---- one prompt ------------------------------------------------------------------------


def _refusal(status: int, data: bytes) -> str:
    """ComfyUI's 400 for a prompt it will not run, as one sentence naming each node."""
    try:
        answer = json.loads(data)
    except ValueError:
        return f"ComfyUI refused the workflow ({status}): {_snippet(data)}"
    answer = as_object(answer)
    error = as_object(answer.get("error"))
    lines = [str(error.get("message") or "the workflow is not valid").rstrip(".")]
    extra = as_object(error.get("extra_info"))
    if extra.get("node_id") is not None:  # e.g. a node type no installed package provides
        lines.append(f"node {extra['node_id']} ({extra.get('class_type', '?')})")
    if error.get("details"):
        lines.append(str(error["details"]))
    for node_id, node in as_object(answer.get("node_errors")).items():
        node = as_object(node)
        for item in as_list(node.get("errors")) or [{}]:
            item = as_object(item)
            what = item.get("message") or "invalid"
            details = f": {item['details']}" if item.get("details") else ""
            lines.append(f"node {node_id} ({node.get('class_type', '?')}): {what}{details}")
    return "ComfyUI refused the workflow: " + "; ".join(lines)[:2000]


def queue_prompt(workflow: dict[str, Any], client_id: str) -> str:
    """Post the workflow to /prompt for `client_id`'s websocket; its prompt_id."""
    body = json.dumps({"prompt": workflow, "client_id": client_id}).encode()
    status, data = _http("POST", "/prompt", body, headers={"Content-Type": "application/json"})
    if status == 400:
        raise JobError(_refusal(status, data))
    if status != 200:
        raise JobError(f"ComfyUI answered {status} to /prompt: {_snippet(data)}")
    return str(json.loads(data)["prompt_id"])


def _failure(data: dict[str, Any]) -> str:
    node = data.get("node_id")
    kind = data.get("node_type") or "?"
    message = str(data.get("exception_message") or "no message").strip()[:1500]
    exception = data.get("exception_type") or "error"
    return f"ComfyUI failed at node {node} ({kind}): {exception}: {message}"


def history(prompt_id: str) -> dict[str, Any] | None:
    status, data = _http("GET", f"/history/{urllib.parse.quote(prompt_id)}")
    if status != 200:
        return None
    entry = as_object(json.loads(data)).get(prompt_id)
    return as_object(entry) if entry is not None else None


def _finished(message: dict[str, Any], prompt_id: str) -> bool:
    """Whether one websocket message ends this prompt (or fails it: JobError)."""
    kind, data = message.get("type"), as_object(message.get("data"))
    if data.get("prompt_id") != prompt_id:
        return False  # queue status, or another client's prompt
    if kind == "execution_error":
        raise JobError(_failure(data))
    if kind == "execution_interrupted":
        raise JobError(f"ComfyUI interrupted the workflow at node {data.get('node_id')}")
    return (kind == "executing" and data.get("node") is None) or kind == "execution_success"


def follow(ws: Any, prompt_id: str) -> None:
    """Read `ws` until the prompt has run. A quiet socket is not an error (a long sampler
    sends nothing for a while): the history is asked instead, until JOB_TIMEOUT_S."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            frame = ws.recv()
        except websocket.WebSocketTimeoutException:
            if history(prompt_id) is not None:
                return
            continue
        except (websocket.WebSocketConnectionClosedException, OSError) as err:
            if history(prompt_id) is not None:
                return
            raise JobError(
                f"ComfyUI closed the progress connection ({err}); it may have "
                "crashed (often out of GPU memory): the worker log shows why"
            ) from err
        if isinstance(frame, str) and _finished(as_object(json.loads(frame)), prompt_id):
            return  # binary frames are previews
    raise JobError(f"the workflow did not finish within {JOB_TIMEOUT_S:g} s")


def run_prompt(workflow: dict[str, Any]) -> str:
    """Run the workflow in ComfyUI to its end; its prompt_id."""
    client_id = uuid.uuid4().hex
    # Connected before the prompt is queued, so no message of it is missed.
    ws = websocket.create_connection(f"ws://{COMFY_HOST}/ws?clientId={client_id}", timeout=30)
    try:
        prompt_id = queue_prompt(workflow, client_id)
        _log(f"prompt {prompt_id} queued")
        follow(ws, prompt_id)
    finally:
        ws.close()
    return prompt_id


# ---- outputs ---------------------------------------------------------------------------


def output_files(prompt_id: str, nodes: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(node id, file entry) of every file the prompt saved, from `nodes` (all: empty);
    previews ("temp") left out."""
    entry = history(prompt_id)
    if entry is None:
        raise JobError(f"ComfyUI has no history for prompt {prompt_id}")
    outputs = as_object(entry.get("outputs"))
    nodes = nodes or list(outputs)
    found = [
        (node_id, as_object(item))
        for node_id in nodes
        for key in OUTPUT_KEYS
        for item in as_list(as_object(outputs.get(node_id)).get(key))
        if as_object(item).get("filename") and as_object(item).get("type", "output") == "output"
    ]
    if not found:
        raise JobError(
            "the workflow ran but saved no output: it needs a SaveImage (or a video save) node"
        )
    return found


def view(item: dict[str, Any]) -> bytes:
    """The bytes of one output file, through /view."""
    query = urllib.parse.urlencode(
        {
            "filename": item["filename"],
            "subfolder": item.get("subfolder", ""),
            "type": item.get("type", "output"),
        }
    )
    status, data = _http("GET", f"/view?{query}", timeout=120)
    if status != 200:
        raise JobError(f"ComfyUI could not give back {item['filename']} ({status})")
    return data
