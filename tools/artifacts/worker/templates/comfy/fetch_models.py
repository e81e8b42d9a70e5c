"""Download a ComfyUI worker's model files from Hugging Face (KripTik; a static file, standard
library only, shipped as is: the files to fetch are in models.json beside it).

At build time it writes each file to /comfyui/models/<folder>/<filename>, where ComfyUI looks.
The user's Hugging Face token is a BuildKit secret mounted at /run/secrets/hf_token for that
one RUN: it is read from there, sent only to the Hugging Face endpoint (a redirect to another
host drops it), and never printed or written anywhere. A file whose size the plan knows is
checked against it; a wrong size fails the build.

    python3 fetch_models.py                    # the image's models folder (the build)
    python3 fetch_models.py --volume /workspace/models   # a network volume, from a pod

HF_ENDPOINT (a build argument) replaces https://huggingface.co, e.g. for a mirror.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Final, cast

HERE: Final = Path(__file__).resolve().parent
MODELS_JSON: Final = Path(os.environ.get("KRIPTIK_MODELS_JSON", str(HERE / "models.json")))
TOKEN_FILE: Final = Path(os.environ.get("KRIPTIK_HF_TOKEN_FILE", "/run/secrets/hf_token"))
IMAGE_MODELS: Final = Path("/comfyui/models")
CHUNK: Final = 1 << 20
ATTEMPTS: Final = 3


class FetchError(Exception):
    """A file that could not be fetched; the message says what to do."""


class _SameHostAuth(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but keeps the token only while the host stays the same: the Hub
    redirects a file to its storage with a signed URL that needs no token."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != req.host:
            new.remove_header("Authorization")
        return new


def _log(message: str) -> None:
    sys.stderr.write(f"kriptik-models: {message}\n")
    sys.stderr.flush()


def _token() -> str | None:
    try:
        return TOKEN_FILE.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def target(root: Path, relative: str) -> Path:
    """`root/relative`, refused when it would leave `root` (models.json is checked when it is
    rendered; this holds even for a hand-edited one)."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or path == root.resolve():
        raise FetchError(f"{relative!r} is not a file path inside {root}")
    return path


def _url(entry: dict[str, Any]) -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    repo, revision = entry["repo_id"], urllib.parse.quote(entry["revision"], safe="")
    return f"{endpoint}/{repo}/resolve/{revision}/{urllib.parse.quote(entry['path'])}"


def _refused(entry: dict[str, Any], err: urllib.error.HTTPError) -> FetchError:
    repo = entry["repo_id"]
    if err.code in (401, 403):
        hint = (
            f"accept its licence at https://huggingface.co/{repo} with your account, and build "
            "with your token: --secret id=hf_token,env=HF_TOKEN"
        )
        return FetchError(f"Hugging Face refused {repo} ({err.code}): {hint}")
    if err.code == 404:
        return FetchError(
            f"{repo} has no file {entry['path']} at {entry['revision']} (404): check the "
            "repo, the file name and the revision"
        )
    return FetchError(f"Hugging Face answered {err.code} for {repo}/{entry['path']}")


def _download(entry: dict[str, Any], dest: Path, token: str | None) -> int:
    """Stream one file to `dest` (through a .part file); the bytes written."""
    opener = urllib.request.build_opener(_SameHostAuth())
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(_url(entry), headers=headers)  # noqa: S310 - the Hub's URL
    part = dest.with_name(dest.name + ".part")
    written = 0
    try:
        with opener.open(request, timeout=60) as response, part.open("wb") as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                written += len(chunk)
    except urllib.error.HTTPError as err:
        part.unlink(missing_ok=True)
        raise _refused(entry, err) from None
    part.replace(dest)
    return written


def _retrying(entry: dict[str, Any], dest: Path, token: str | None) -> int:
    """`_download`, tried again after a network failure (an HTTP refusal is final)."""
    attempt = 1
    while True:
        try:
            return _download(entry, dest, token)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            if attempt == ATTEMPTS:
                raise FetchError(f"{entry['repo_id']}/{entry['path']}: {err}") from None
            _log(f"{entry['path']}: {err}; trying again ({attempt}/{ATTEMPTS})")
            attempt += 1


def fetch(entry: dict[str, Any], dest: Path, token: str | None) -> None:
    """One model file at `dest`, downloaded unless a file of the expected size is there."""
    size = entry.get("size_bytes")
    if dest.is_file() and (size is None or dest.stat().st_size == size):
        _log(f"{dest} is there already")
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = _retrying(entry, dest, token)
    if size is not None and written != size:
        dest.unlink(missing_ok=True)
        raise FetchError(
            f"{entry['repo_id']}/{entry['path']} came as {written} bytes, not the {size} the "
            "plan read from the Hub: the file changed; plan the deployment again"
        )
    _log(f"{dest}: {written} bytes from {entry['repo_id']}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Fetch a ComfyUI worker's model files.")
    parser.add_argument("--volume", type=Path, help="a network volume's models folder")
    args = parser.parse_args(argv)
    plan = cast("dict[str, Any]", json.loads(MODELS_JSON.read_text(encoding="utf-8")))
    volume = cast("Path | None", args.volume)
    root, key = (volume, "volume_path") if volume else (IMAGE_MODELS, "image_path")
    token = _token()
    try:
        for entry in cast("list[dict[str, Any]]", plan["files"]):
            fetch(entry, target(root, entry[key]), token)
    except FetchError as err:
        _log(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
