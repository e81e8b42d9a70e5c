"""The chat app as the UI tests meet it: `kriptik serve` against every provider fake and a
scripted LLM on loopback, plus the scan that proves a planted key went nowhere."""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.llm_script import DEPLOY_REPO, MODEL, ScriptedLLM
from tests.services.kriptik import Server, serve
from tools.simulator import hf_repos
from tools.simulator.all import FakeStack
from tools.simulator.server import ServedApp
from vault.redact import encoded_forms

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def planted_key(prefix: str = "rpa_") -> str:
    """A unique key-shaped string, valid at the RunPod fake once registered there."""
    alphabet = string.ascii_letters + string.digits
    return prefix + "PLANTED" + "".join(secrets.choice(alphabet) for _ in range(36))


@dataclass
class App:
    server: Server
    home: Path
    stack: FakeStack
    llm: ScriptedLLM

    @property
    def url(self) -> str:
        return self.server.url

    def add_runpod_key(self, key: str) -> None:
        self.stack.runpod.state.keys[key] = "rw"

    def leaks(self, secret: str) -> list[str]:
        """Every place the secret shows up (raw, base64, URL-encoded): the app's data
        folder (databases, Chainlit's session files), the server log, the LLM requests."""
        forms = {form.encode() for form in encoded_forms(secret)}
        forms |= {base64.b64encode(secret.encode())}
        places: list[tuple[str, bytes]] = [(f"file {p}", data) for p, data in _contents(self.home)]
        places += [
            ("server log", self.server.log().encode()),
            ("LLM requests", self.llm.captured().encode()),
        ]
        return [name for name, data in places if any(form in data for form in forms)]


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _contents(root: Path) -> list[tuple[Path, bytes]]:
    """Each file's bytes. The server is still running, so SQLite's journal may vanish between
    the listing and the read: its rows are then in the database file, which is read too."""
    found: list[tuple[Path, bytes]] = []
    for path in _files(root):
        try:
            found.append((path, path.read_bytes()))
        except FileNotFoundError:
            continue
    return found


@contextmanager
def running_app(home: Path, *, ask_timeout_s: int = 120) -> Iterator[App]:
    """Fakes, the scripted LLM and `kriptik serve`, all on 127.0.0.1, for one module."""
    stack = FakeStack().start()
    llm = ScriptedLLM()
    llm_server = ServedApp(llm.app())
    stack.huggingface.add_repo(
        hf_repos.safetensors_repo(
            DEPLOY_REPO, hidden=3584, layers=28, vocab=152064, intermediate=18944, heads=28,
            kv_heads=4, max_pos=32768,
        )
    )  # fmt: skip
    stack.runpod.state.ready_after = 0  # workers are ready at the first look
    env = {f"KRIPTIK_{name.upper()}": value for name, value in stack.settings_fields().items()}
    env |= {
        "KRIPTIK_LLM_BASE_URL": f"{llm_server.url}/v1",
        "KRIPTIK_MODEL": MODEL,
        "KRIPTIK_ASK_TIMEOUT_S": str(ask_timeout_s),
        "HF_HUB_OFFLINE": "0",
    }
    try:
        with serve(home, **env) as server:
            yield App(server, home, stack, llm)
    finally:
        llm.release_all()  # a test that failed while holding a reply must not hang the server
        llm_server.stop()
        stack.stop()
