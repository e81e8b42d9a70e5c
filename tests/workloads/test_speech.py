"""Speech recognition: a tiny random-weight Whisper transcribes a WAV made here, given as
base64 and as a URL on a loopback HTTP server, through the generated worker on the pinned
libraries (ffmpeg from the pinned imageio-ffmpeg). Random weights: any text will do, but
it must be a transcript string."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.workloads.env import worker_plan
from tests.workloads.harness import run_worker, runsync, serve_worker
from tests.workloads.models import build_model
from tools.artifacts.worker.render import render_worker, sample_wav


class _Files(BaseHTTPRequestHandler):
    """Serves /tone.wav, and /big (more than the worker downloads); 404 otherwise."""

    routes: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def audio_server() -> Iterator[str]:
    _Files.routes = {"/tone.wav": sample_wav(0.5), "/big": b"\0" * (26 * 1024 * 1024)}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("whisper") / "model"
    build_model("whisper", model)
    return model


@pytest.fixture(scope="module")
def speech_worker(whisper: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One speech-recognition worker served for every bad-audio job of this module."""
    plan = worker_plan("transformers", "automatic-speech-recognition")
    with serve_worker(plan, whisper, tmp_path_factory.mktemp("speech-worker")) as base_url:
        yield base_url


def _transcript(output: object) -> str:
    assert isinstance(output, dict)
    assert set(output) == {"text"}
    text = output["text"]
    assert isinstance(text, str)
    return text


def test_smoke_test_input_is_real_audio_and_transcribes(whisper: Path, tmp_path: Path) -> None:
    files = render_worker(worker_plan("transformers", "automatic-speech-recognition"), secret=False)
    job = json.loads(files.files["test_input.json"])["input"]
    assert set(job) == {"audio_base64"}
    assert base64.b64decode(job["audio_base64"])[:4] == b"RIFF"
    result = run_worker(files, whisper, job, tmp_path)
    assert result.error is None, result.log
    _transcript(result.output)


def test_a_wav_by_url_transcribes(whisper: Path, tmp_path: Path, audio_server: str) -> None:
    plan = worker_plan("transformers", "automatic-speech-recognition")
    result = run_worker(plan, whisper, {"audio_url": f"{audio_server}/tone.wav"}, tmp_path)
    assert result.error is None, result.log
    _transcript(result.output)


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({}, "invalid input: give exactly one of audio_base64, audio_url"),
        ({"audio_base64": "AAAA", "audio_url": "http://127.0.0.1/x"}, "invalid input: give exactly one of"),
        ({"audio_base64": 12}, "invalid input: audio_base64 must be a string"),
        ({"audio_base64": "%%% not base64"}, "invalid input: audio_base64 is not valid base64"),
        ({"audio_base64": base64.b64encode(b"plain text, not audio").decode()},
         "invalid input: the audio could not be decoded"),
        ({"audio_url": "file:///etc/passwd"}, "invalid input: audio_url must be an http or https URL"),
        ({"audio_url": "{server}/missing.wav"}, "invalid input: audio_url answered HTTP 404"),
        ({"audio_url": "{server}/big"}, "invalid input: the audio at audio_url is larger than"),
    ],
)  # fmt: skip
def test_bad_audio_is_a_clear_job_error(
    speech_worker: str,
    tmp_path_factory: pytest.TempPathFactory,
    audio_server: str,
    job: dict[str, object],
    message: str,
) -> None:
    job = {
        k: v.replace("{server}", audio_server) if isinstance(v, str) else v for k, v in job.items()
    }
    result = runsync(speech_worker, job)
    assert result.output is None
    assert result.error is not None and result.error.startswith(message), result.log
    assert "Traceback" not in result.error
    scratch = str(tmp_path_factory.getbasetemp())  # holds the served worker's HOME
    assert scratch not in result.error and "/root" not in result.error
