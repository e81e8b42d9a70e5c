"""The ComfyUI worker's build context (`render_worker` for a comfyui plan): its Dockerfile
passes the Dockerfile rules, pins every node package and dependency, takes the Hugging Face
token only as a build secret, and its model fetcher (run here against a loopback Hub) sends
that token to the Hub alone and checks every file's size."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.artifacts.dockerfile_rules import lint, parse
from tests.workloads.comfy_plan import SDXL_WORKFLOW, comfy_plan
from tools.artifacts.worker import (
    UnsafeValue,
    WeightSource,
    build_commands,
    render_worker,
    sample_input,
)
from tools.artifacts.worker.base_images import base_image, find_image
from tools.artifacts.worker.comfy import COMFY_PINS, render_comfy
from tools.artifacts.worker.render import PINS, sample_png
from tools.comfy.model import ModelFile, ModelSource, NodePackage

TEMPLATES = Path(__file__).resolve().parents[2] / "tools/artifacts/worker/templates/comfy"
KJ = NodePackage(
    package_id="comfyui-kjnodes",
    repo_url="https://github.com/kijai/ComfyUI-KJNodes",
    class_types=("ImageResizeKJ",),
    version="1.1.9",
)
RGTHREE = NodePackage(
    package_id="rgthree-comfy",
    repo_url="https://github.com/rgthree/rgthree-comfy",
    class_types=("Power Lora Loader (rgthree)",),
    version="a" * 40,
)
# The base image runs ComfyUI, and the handler beside it, as root: ComfyUI writes its
# outputs, uploads and settings under /comfyui, which the base image owns as root.
ROOT_BY_DESIGN = {"K003"}


def _files(secret: bool = True, **plan: Any) -> dict[str, str]:
    return render_worker(comfy_plan(**plan), secret=secret).files


@pytest.mark.parametrize("weights", ["baked", "network_volume"])
@pytest.mark.parametrize("secret", [True, False])
def test_the_dockerfile_passes_the_rules(secret: bool, weights: WeightSource) -> None:
    dockerfile = _files(secret, packages=(KJ, RGTHREE), weights=weights)["Dockerfile"]
    assert {f.rule for f in lint(dockerfile)} == ROOT_BY_DESIGN, lint(dockerfile)
    froms = [i for i in parse(dockerfile) if i.keyword == "FROM"]
    assert [f.args for f in froms] == ["--platform=linux/amd64 ${BASE_IMAGE}"]
    assert f"ARG BASE_IMAGE={base_image('comfyui').ref}\n" in dockerfile
    assert find_image(base_image("comfyui").ref) == base_image("comfyui")


def test_the_hf_token_is_a_build_secret_and_nothing_else() -> None:
    dockerfile = _files(secret=True)["Dockerfile"]
    instructions = parse(dockerfile)  # comments dropped
    runs = [i.args for i in instructions if i.keyword == "RUN" and "fetch_models" in i.args]
    assert runs == ["--mount=type=secret,id=hf_token python3 /kriptik/fetch_models.py"]
    # The id the builder passes (`build_commands`, tools/pipeline/images.py) is this one.
    assert "--secret id=hf_token,env=HF_TOKEN" in build_commands("ctx", "img:1", secret=True)[1]
    for ins in instructions:
        assert "TOKEN" not in ins.args.upper() or ins.args.startswith("--mount=type=secret")
        assert ins.keyword not in {"ARG", "ENV"} or "TOKEN" not in ins.args.upper()
    # Without a secret, no mount; on a network volume, no download at all.
    assert "--mount" not in "".join(i.args for i in parse(_files(secret=False)["Dockerfile"]))
    volume = _files(secret=True, weights="network_volume")["Dockerfile"]
    assert not [i for i in parse(volume) if i.keyword == "RUN" and "fetch_models" in i.args]


def test_nodes_and_dependencies_are_pinned() -> None:
    files = _files(packages=(KJ, RGTHREE))
    runs = [i.args for i in parse(files["Dockerfile"]) if i.keyword == "RUN"]
    assert "comfy-node-install comfyui-kjnodes@1.1.9" in runs
    (clone,) = [r for r in runs if r.startswith("git clone")]
    assert "https://github.com/rgthree/rgthree-comfy /comfyui/custom_nodes/rgthree-comfy" in clone
    assert f"checkout --quiet --detach {'a' * 40}" in clone
    assert COMFY_PINS == {"websocket-client": "1.9.2"}  # and runpod, as every worker
    lines = [x for x in files["requirements.txt"].splitlines() if x and not x.startswith("#")]
    assert lines == [f"runpod=={PINS['runpod']}", "websocket-client==1.9.2"]
    assert (
        "uv pip install --python /opt/venv/bin/python --no-cache --requirement "
        "/kriptik/requirements.txt"
    ) in runs


@pytest.mark.parametrize(
    ("package", "says"),
    [
        (KJ.model_copy(update={"version": None}), "comfyui-kjnodes has no pinned version"),
        (KJ.model_copy(update={"version": ""}), "comfyui-kjnodes has no pinned version"),
        (KJ.model_copy(update={"version": "1.0 && curl x"}), "is not a version"),
        (KJ.model_copy(update={"package_id": "kj;rm -rf /"}), "is not a registry id"),
        (KJ.model_copy(update={"package_id": "kj@1"}), "is not a registry id"),
        (RGTHREE.model_copy(update={"repo_url": "git://x/y"}), "not an https repository URL"),
        (RGTHREE.model_copy(update={"repo_url": "https://x/y z"}), "not an https repository"),
    ],
)
def test_an_unpinned_or_unsafe_package_is_refused(package: NodePackage, says: str) -> None:
    with pytest.raises(UnsafeValue, match=says):
        render_worker(comfy_plan(packages=(package,)), secret=False)


def _model(*, size: int = 23_802_932_552, **changes: Any) -> ModelFile:
    source = ModelSource(
        repo_id="black-forest-labs/FLUX.1-dev",
        path="flux1-dev.safetensors",
        size_bytes=size,
        gated=True,
    )
    model = ModelFile(
        filename="flux1-dev.safetensors",
        folder="diffusion_models",
        node_ids=("12",),
        class_type="UNETLoader",
        source=source,
    )
    return model.model_copy(update=changes)


def test_models_json_says_where_each_file_goes() -> None:
    models = json.loads(_files(models=(_model(),))["models.json"])
    assert models == {
        "weights": "baked",
        "files": [
            {
                "filename": "flux1-dev.safetensors",
                "folder": "diffusion_models",
                "repo_id": "black-forest-labs/FLUX.1-dev",
                "path": "flux1-dev.safetensors",
                "revision": "main",
                "size_bytes": 23_802_932_552,
                "gated": True,
                "image_path": "diffusion_models/flux1-dev.safetensors",
                # The base image's extra_model_paths.yaml reads diffusion models from unet/.
                "volume_path": "unet/flux1-dev.safetensors",
            }
        ],
    }


@pytest.mark.parametrize(
    ("model", "weights", "says"),
    [
        (_model(source=None), "baked", "has no source"),
        (_model(filename="../../etc/passwd"), "baked", "not a plain relative file path"),
        (_model(filename="/abs.safetensors"), "baked", "not a plain relative file path"),
        (_model(folder="ipadapter"), "network_volume", "bake the models into the image"),
    ],
)
def test_a_model_that_cannot_be_fetched_is_refused(
    model: ModelFile, weights: WeightSource, says: str
) -> None:
    with pytest.raises(UnsafeValue, match=says):
        render_worker(comfy_plan(models=(model,), weights=weights), secret=False)


def test_the_workflow_and_its_contract_are_baked_in() -> None:
    files = _files()
    assert json.loads(files["workflow.json"]) == SDXL_WORKFLOW
    contract = json.loads(files["inputs.json"])
    assert contract["output_node_ids"] == ["9"]
    prompt = contract["fields"][0]
    assert (prompt["name"], prompt["kind"], prompt["node_id"], prompt["input_name"]) == (
        "prompt",
        "text",
        "6",
        "text",
    )
    for static in ("handler.py", "comfy_api.py", "fetch_models.py"):
        assert files[static] == (TEMPLATES / static).read_text(encoding="utf-8")
    copied = " ".join(i.args for i in parse(files["Dockerfile"]) if i.keyword == "COPY")
    for name in set(files) - {"Dockerfile", ".dockerignore"}:
        assert name in copied and f"!{name}\n" in files[".dockerignore"]
    assert "handler.py comfy_api.py /" in copied  # start.sh runs /handler.py


def test_sample_input_is_the_workflows_defaults() -> None:
    plan = comfy_plan()
    assert plan.comfy is not None
    assert sample_input(plan) == {field.name: field.default for field in plan.comfy.inputs}
    assert json.loads(_files()["test_input.json"]) == {"input": sample_input(plan)}
    pins = {"runpod": PINS["runpod"], **COMFY_PINS}
    direct = render_comfy(plan, secret=True, pins=pins, sample_image=sample_png())
    assert render_worker(plan, secret=True).files == direct


def test_an_input_that_points_nowhere_or_another_base_is_refused() -> None:
    plan = comfy_plan()
    assert plan.comfy is not None
    lost = plan.comfy.inputs[0].model_copy(update={"input_name": "txt"})
    bad = plan.model_copy(update={"comfy": plan.comfy.model_copy(update={"inputs": (lost,)})})
    with pytest.raises(UnsafeValue, match="sets txt of node 6, which the workflow does not have"):
        render_worker(bad, secret=False)
    other = plan.model_copy(update={"base_image": base_image("cuda-torch").ref})
    with pytest.raises(UnsafeValue, match="a ComfyUI worker builds on runpod/worker-comfyui"):
        render_worker(other, secret=False)


# ---- fetch_models.py against a loopback Hub --------------------------------------------

TOKEN = "hf_plantedTOKENvalue1234567890"  # planted: it must appear in no log
BLOB = b"safetensors bytes " * 1000


class _Hub(BaseHTTPRequestHandler):
    """/{repo}/resolve/{rev}/{path}: a redirect to another host (as the Hub's storage is),
    which serves the bytes; /gated/... answers 403 without the token."""

    seen: ClassVar[list[tuple[str, str | None]]] = []
    port: ClassVar[int] = 0

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/gated/") and self.headers.get("Authorization") is None:
            self.send_error(403)
        elif "/resolve/" in self.path:
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.port}/blob/x?sig=1")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.end_headers()
            self.wfile.write(BLOB)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    _Hub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{_Hub.port}"
    server.shutdown()
    thread.join()


def _fetch(hub: str, tmp_path: Path, model: ModelFile, token: str | None) -> tuple[int, str]:
    files = render_worker(comfy_plan(models=(model,)), secret=True)
    worker = files.write(tmp_path / "worker")
    secret = tmp_path / "hf_token"
    if token is not None:
        secret.write_text(token + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "fetch_models.py", "--volume", str(tmp_path / "models")],
        cwd=worker,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"HF_ENDPOINT": hub, "KRIPTIK_HF_TOKEN_FILE": str(secret), "NO_PROXY": "*"},
    )
    return done.returncode, done.stdout + done.stderr


def test_fetch_models_sends_the_token_to_the_hub_only_and_checks_sizes(
    hub: str, tmp_path: Path
) -> None:
    _Hub.seen.clear()
    model = _model(size=len(BLOB))
    code, log = _fetch(hub, tmp_path, model, TOKEN)
    assert code == 0, log
    assert (tmp_path / "models/unet/flux1-dev.safetensors").read_bytes() == BLOB
    assert _Hub.seen == [
        ("/black-forest-labs/FLUX.1-dev/resolve/main/flux1-dev.safetensors", f"Bearer {TOKEN}"),
        ("/blob/x?sig=1", None),  # another host: the token stays behind
    ]
    assert TOKEN not in log
    # A file the size the plan read is not fetched again; a wrong size fails the build.
    assert _fetch(hub, tmp_path, model, TOKEN)[0] == 0 and len(_Hub.seen) == 2
    wrong = _model(filename="other.safetensors", size=5)
    code, log = _fetch(hub, tmp_path, wrong, TOKEN)
    assert code == 1 and f"came as {len(BLOB)} bytes, not the 5" in log
    assert not (tmp_path / "models/unet/other.safetensors").exists()


def test_fetch_models_says_what_to_do_for_a_gated_repo(hub: str, tmp_path: Path) -> None:
    gated = _model(source=ModelSource(repo_id="gated/model", path="m.safetensors", gated=True))
    code, log = _fetch(hub, tmp_path, gated, None)
    assert code == 1
    assert "Hugging Face refused gated/model (403): accept its licence at" in log
    assert "--secret id=hf_token,env=HF_TOKEN" in log
