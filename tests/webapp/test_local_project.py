"""The generated project runs as cloned: the repo pushed to the GitHub fake, rebuilt by real
`git` from the fake's stored objects (the fake speaks the REST Git Data API, not git's
smart HTTP, so there is nothing to `git clone`; the rebuilt tree must hash to the very
tree SHA the fake holds), then started with the README's own commands and used over
loopback: the page, the health check and one job through `api/infer`."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from pydantic import SecretStr

from tests.conftest import need_service
from tests.webapp.conftest import ENDPOINT_ID, spec_for
from tools.artifacts.webapp import local_env_text, render_app, write_local_project
from tools.clients.github import GitHubClient
from tools.publish import publish_to_github
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY

OWNER = "octo-tester"


def _git(cwd: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    return done.stdout.strip()


def clone(stack: FakeStack, name: str, into: Path) -> Path:
    """The pushed branch as a git work tree, checked against the fake's own tree SHA."""
    if shutil.which("git") is None:
        need_service("git", "run scripts/install-test-tools.sh")
    repo = stack.github.repos[(OWNER, name)]
    tree = repo.objects[repo.refs["heads/main"]][1]["tree"]
    for path, (mode, sha) in repo.flatten(tree).items():
        target = into / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(repo.objects[sha][1])
        target.chmod(0o755 if mode == "100755" else 0o644)
    _git(into, "init", "-q", "-b", "main")
    _git(into, "add", "-A")
    assert _git(into, "write-tree") == tree  # Real git hashes the same tree, modes included.
    return into


def readme_commands(root: Path) -> list[str]:
    """The commands of the README's "Run it locally" shell block, comments dropped."""
    text = (root / "README.md").read_text()
    block = re.search(r"## Run it locally.*?```sh\n(.*?)```", text, re.DOTALL)
    assert block, "the README has no local run block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def _fill(env_file: Path, **values: str) -> None:
    """What the README asks the user to do: fill in the names in `.env`."""
    lines = env_file.read_text().splitlines()
    filled = [
        f"{n}={values[n]}" if (n := line.partition("=")[0]) in values else line for line in lines
    ]
    env_file.write_text("\n".join(filled) + "\n")


async def test_the_pushed_repo_runs_as_cloned_with_the_readme_commands(
    github: GitHubClient, stack: FakeStack, tmp_path: Path
) -> None:
    if shutil.which("node") is None:
        need_service("Node.js", "install Node 18 or newer")
    spec = spec_for("generic", project="demo-clone", example_input={"prompt": "Hello"})
    await publish_to_github(spec, github=github, secrets=[SecretStr(DEFAULT_KEY)])
    root = clone(stack, "demo-clone", tmp_path / "demo-clone")
    assert not (root / ".env").exists() and (root / ".env.example").is_file()
    (root / ".env").write_text("RUNPOD_API_KEY=x\n")
    assert _git(root, "check-ignore", ".env") == ".env"
    assert _git(root, "ls-files", "--others", "--exclude-standard") == ""  # Nothing to commit.
    (root / ".env").unlink()
    with started_as_readme_says(root, stack) as url:
        await _use(url, stack)


@contextmanager
def started_as_readme_says(root: Path, stack: FakeStack) -> Iterator[str]:
    """Copy and fill `.env`, run the start command; yields the URL the server printed."""
    copy, start = readme_commands(root)
    assert copy == "cp .env.example .env" and start == "node dev-server.mjs"
    subprocess.run(shlex.split(copy), cwd=root, check=True, timeout=30)
    _fill(root / ".env", RUNPOD_API_KEY=DEFAULT_KEY, RUNPOD_ENDPOINT_ID=ENDPOINT_ID,
          RUNPOD_API_BASE=stack.url("runpod_jobs") + "/v2")  # fmt: skip
    # Only PORT comes from outside (0: a free port); everything else from the filled .env.
    server = subprocess.Popen(shlex.split(start), cwd=root, text=True, stdout=subprocess.PIPE,
                              env={"PATH": os.environ["PATH"], "PORT": "0"})  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("Listening on http://127.0.0.1:"), line
        yield line.split()[-1]
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _use(url: str, stack: FakeStack) -> None:
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as http:
        page = await http.get("/")
        assert page.status_code == 200 and "JSON Playground" in page.text
        assert (await http.get("/.env")).status_code == 404
        health = await http.get("/api/infer", params={"health": "1"})
        assert health.status_code == 200 and health.json()["workers"]["ready"] == 1
        job = (await http.post("/api/infer", json={"input": {"prompt": "cloned"}})).json()
        status = {"status": "IN_QUEUE"}
        for _ in range(10):  # The fake moves a job on by one state per status read.
            if status["status"] not in {"IN_QUEUE", "IN_PROGRESS"}:
                break
            status = (await http.get("/api/infer", params={"id": job["id"]})).json()
        assert status["status"] == "COMPLETED", status
        assert json.dumps(status["output"]).find("cloned") >= 0
    assert stack.runpod_jobs.calls_to("POST /v2/{endpoint_id}/run")


def test_local_copy_gets_a_private_env_with_the_endpoint_and_no_key(tmp_path: Path) -> None:
    app = render_app(spec_for("image"))
    env = write_local_project(app, tmp_path / "app", jobs_base_url="https://jobs.example/v2/")
    assert env.stat().st_mode & 0o777 == 0o600
    values = dict(
        line.split("=", 1)
        for line in env.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert (
        values["RUNPOD_ENDPOINT_ID"] == ENDPOINT_ID
        and values["RUNPOD_API_BASE"] == "https://jobs.example/v2"
    )
    assert values["RUNPOD_API_KEY"] == ""  # The user fills it; KripTik never writes a key here.
    assert env.read_text() == local_env_text(app, jobs_base_url="https://jobs.example/v2")
    env.write_text("RUNPOD_API_KEY=the-users-own\n")
    write_local_project(app, tmp_path / "app", jobs_base_url="https://jobs.example/v2")
    assert env.read_text() == "RUNPOD_API_KEY=the-users-own\n"  # Never replaced.
