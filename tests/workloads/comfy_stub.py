"""A stub ComfyUI server, for running a ComfyUI worker's handler (`comfy_plan.py` has the
workflow and the worker plan the tests give it).

The stub is a real loopback server (127.0.0.1, a free port) that speaks the part of ComfyUI's
API a worker's handler uses, as ComfyUI does: `GET /system_stats`, `POST /prompt` (recorded;
`{"prompt_id", "number", "node_errors"}`, or a 400 with `node_errors` for a class_type it is
told to refuse), `GET /ws?clientId=` (a real websocket, framed by the `websockets` library's
protocol: `status`, `execution_start`, `execution_cached`, `executing` per node, `executed`
for a saving node, a binary preview frame, then `executing` with node null and
`execution_success`; or `execution_error` at the node it is told to fail), `GET
/history/{prompt_id}`, `GET /view` (a real PNG) and `POST /upload/image` (multipart).
"""

from __future__ import annotations

import contextlib
import email.message
import email.parser
import email.policy
import json
import queue
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from tools.artifacts.worker.render import sample_png

__all__ = ["ComfyStub", "comfy_stub"]

_SAVING = {"SaveImage": "output", "PreviewImage": "temp"}


@dataclass
class ComfyStub:
    """What the stub was asked, and how it behaves (set these before a job).

    Attributes:
        host: `127.0.0.1:PORT`, for COMFY_HOST.
        png: The bytes every output file is.
        refuse_class_type: `POST /prompt` answers 400 with node_errors for nodes of this class.
        fail_node: The node id whose execution ends in `execution_error`.
        requests: Every request, as "METHOD /path?query".
        prompts: Every workflow posted to /prompt.
        uploads: (filename, bytes) of every uploaded image.
    """

    host: str
    png: bytes
    refuse_class_type: str | None = None
    fail_node: str | None = None
    requests: list[str] = field(default_factory=list[str])
    prompts: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    uploads: list[tuple[str, bytes]] = field(default_factory=list[tuple[str, bytes]])
    history: dict[str, Any] = field(default_factory=dict[str, Any])
    outboxes: dict[str, queue.Queue[bytes | str | None]] = field(
        default_factory=dict[str, "queue.Queue[bytes | str | None]"]
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        """Forget what was asked and go back to running every prompt."""
        with self.lock:
            self.requests.clear()
            self.prompts.clear()
            self.uploads.clear()
        self.refuse_class_type = self.fail_node = None


def _refusal(prompt: dict[str, Any], class_type: str) -> dict[str, Any] | None:
    bad = {nid: node for nid, node in prompt.items() if node["class_type"] == class_type}
    if not bad:
        return None
    errors = {
        nid: {
            "errors": [
                {
                    "type": "value_not_in_list",
                    "message": "Value not in list",
                    "details": f"ckpt_name: '{node['inputs'].get('ckpt_name')}' not in []",
                    "extra_info": {"input_name": "ckpt_name"},
                }
            ],
            "dependent_outputs": [n for n, o in prompt.items() if o["class_type"] in _SAVING],
            "class_type": class_type,
        }
        for nid, node in bad.items()
    }
    error: dict[str, Any] = {
        "type": "prompt_outputs_failed_validation",
        "message": "Prompt outputs failed validation",
        "details": "",
        "extra_info": {},
    }
    return {"error": error, "node_errors": errors}


def _run(stub: ComfyStub, prompt: dict[str, Any], prompt_id: str) -> list[bytes | str]:
    """The messages ComfyUI sends while it runs `prompt`; the history is filled first, as
    ComfyUI does before it says the prompt is done."""
    said: list[bytes | str] = [
        json.dumps({"type": "execution_start", "data": {"prompt_id": prompt_id}}),
        json.dumps({"type": "execution_cached", "data": {"nodes": [], "prompt_id": prompt_id}}),
    ]
    outputs: dict[str, Any] = {}
    for number, (node_id, node) in enumerate(prompt.items()):
        running = {"node": node_id, "display_node": node_id, "prompt_id": prompt_id}
        said.append(json.dumps({"type": "executing", "data": running}))
        if node_id == stub.fail_node:
            return [
                *said,
                json.dumps({"type": "execution_error", "data": _oom(prompt_id, node_id, node)}),
            ]
        if node["class_type"] == "KSampler":
            said.append(b"\x00\x00\x00\x01\x00\x00\x00\x02preview")  # a binary preview frame
        if (kind := _SAVING.get(node["class_type"])) is not None:
            files = [{"filename": f"ComfyUI_{number:05}_.png", "subfolder": "", "type": kind}]
            outputs[node_id] = {"images": files}
            executed = {"node": node_id, "output": outputs[node_id], "prompt_id": prompt_id}
            said.append(json.dumps({"type": "executed", "data": executed}))
    status = {"status_str": "success", "completed": True, "messages": []}
    stub.history[prompt_id] = {
        "prompt": [0, prompt_id, prompt, {}, list(outputs)],
        "outputs": outputs,
        "status": status,
    }
    done = {"node": None, "prompt_id": prompt_id}
    return [
        *said,
        json.dumps({"type": "executing", "data": done}),
        json.dumps({"type": "execution_success", "data": {"prompt_id": prompt_id}}),
    ]


def _oom(prompt_id: str, node_id: str, node: dict[str, Any]) -> dict[str, Any]:
    """The `execution_error` data of a node that ran out of GPU memory, as ComfyUI sends it."""
    return {
        "prompt_id": prompt_id,
        "node_id": node_id,
        "node_type": node["class_type"],
        "executed": [],
        "exception_message": "CUDA out of memory. Tried to allocate 2.00 GiB",
        "exception_type": "torch.OutOfMemoryError",
        "traceback": ["..."],
        "current_inputs": {},
        "current_outputs": {},
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server  # pyright: ignore[reportIncompatibleVariableOverride]  # the subclass it is
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the test reads `requests`

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._answer(status, json.dumps(value).encode())

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        stub = self.server.stub
        with stub.lock:
            stub.requests.append(f"GET {self.path}")
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/system_stats":
            self._json(200, {"system": {"os": "posix", "comfyui_version": "stub"}, "devices": []})
        elif url.path == "/ws":
            _websocket(self, query.get("clientId", ""))
        elif url.path.startswith("/history/"):
            prompt_id = url.path.removeprefix("/history/")
            entry = stub.history.get(prompt_id)
            self._json(200, {prompt_id: entry} if entry else {})
        elif url.path == "/view" and query.get("filename", "").startswith("ComfyUI_"):
            self._answer(200, stub.png, "image/png")
        else:
            self._json(404, {"error": f"no {url.path}"})

    def do_POST(self) -> None:
        stub, body = self.server.stub, self._body()
        with stub.lock:
            stub.requests.append(f"POST {self.path}")
        if self.path == "/prompt":
            self._prompt(stub, json.loads(body))
        elif self.path == "/upload/image":
            name, data = _image_part(self.headers.get("Content-Type", ""), body)
            with stub.lock:
                stub.uploads.append((name, data))
            self._json(200, {"name": name, "subfolder": "", "type": "input"})
        else:
            self._json(404, {"error": f"no {self.path}"})

    def _prompt(self, stub: ComfyStub, body: dict[str, Any]) -> None:
        prompt = body["prompt"]
        with stub.lock:
            stub.prompts.append(prompt)
            number = len(stub.prompts)
        refused = _refusal(prompt, stub.refuse_class_type) if stub.refuse_class_type else None
        if refused is not None:
            self._json(400, refused)
            return
        prompt_id = str(uuid.uuid4())
        outbox = stub.outboxes.get(str(body.get("client_id")))
        for message in _run(stub, prompt, prompt_id):
            if outbox is not None:
                outbox.put(message)
        self._json(200, {"prompt_id": prompt_id, "number": number, "node_errors": {}})


def _image_part(content_type: str, body: bytes) -> tuple[str, bytes]:
    """The `image` file of a multipart/form-data body: (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    parser = email.parser.BytesParser(_class=email.message.EmailMessage, policy=email.policy.HTTP)
    for part in parser.parsebytes(head + body).iter_parts():
        if part.get_param("name", header="content-disposition") == "image":
            return str(part.get_filename()), cast("bytes", part.get_payload(decode=True))
    raise AssertionError("the upload has no image part")


def _websocket(handler: _Handler, client_id: str) -> None:
    """Serve one websocket on the request's socket: the handshake and every frame through
    the `websockets` library's sans-I/O protocol; a second thread reads the client."""
    sock: socket.socket = handler.connection
    protocol, lock = ServerProtocol(), threading.Lock()
    # http.server has read the request already: it is fed back to the protocol as bytes,
    # so its parser moves past the handshake and reads frames from then on.
    head = "".join(f"{name}: {value}\r\n" for name, value in handler.headers.items())
    protocol.receive_data(f"{handler.requestline}\r\n{head}\r\n".encode())
    (request,) = protocol.events_received()
    assert isinstance(request, Request)
    response = protocol.accept(request)
    protocol.send_response(response)
    sock.sendall(b"".join(protocol.data_to_send()))
    handler.close_connection = True
    if response.status_code != 101:
        return
    outbox: queue.Queue[bytes | str | None] = queue.Queue()
    handler.server.stub.outboxes[client_id] = outbox

    def read() -> None:
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            with lock:
                protocol.receive_data(data) if data else protocol.receive_eof()
                sock.sendall(b"".join(protocol.data_to_send()))
            if not data or protocol.state is not State.OPEN:
                outbox.put(None)
                return

    threading.Thread(target=read, daemon=True).start()
    outbox.put(
        json.dumps(
            {
                "type": "status",
                "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id},
            }
        )
    )
    while (message := outbox.get()) is not None:
        with lock:
            if protocol.state is not State.OPEN:
                break
            if isinstance(message, bytes):
                protocol.send_binary(message)
            else:
                protocol.send_text(message.encode())
            sock.sendall(b"".join(protocol.data_to_send()))
    handler.server.stub.outboxes.pop(client_id, None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: ComfyStub


@contextlib.contextmanager
def comfy_stub() -> Generator[ComfyStub]:
    """A running stub ComfyUI on 127.0.0.1 and a free port, stopped on exit."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stub = ComfyStub(host=f"127.0.0.1:{server.server_address[1]}", png=sample_png(8, 8))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.stub
    finally:
        server.shutdown()
        for outbox in list(server.stub.outboxes.values()):
            outbox.put(None)
        server.server_close()
        thread.join(10)
