"""Rendering generated apps: every kind, deterministic, escaped for each language, the
`.env` rules, and the files each host receives."""

from __future__ import annotations

import html
import io
import json
import re
import stat
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from tests.webapp.conftest import spec_for
from tools.artifacts.client import EndpointInfo
from tools.artifacts.webapp import MODEL_VIEWER, AppSpec, EnvFileError, render_app, write_local_env
from tools.publish import scan_files

KINDS = [
    ("llm", None),
    ("image", None),
    ("media", "model3d"),
    ("media", "video"),
    ("generic", None),
]
ENV_NAMES = {
    "RUNPOD_API_KEY",
    "RUNPOD_ENDPOINT_ID",
    "RUNPOD_API_BASE",
    "APP_PASSCODE",
    "PORT",
    "HOST",
}


@pytest.mark.parametrize(("kind", "media"), KINDS)
def test_every_kind_renders_a_complete_clean_project(kind: str, media: str | None) -> None:
    spec = spec_for(kind, media=media)  # type: ignore[arg-type]
    app = render_app(spec)
    assert render_app(spec).files == app.files  # Deterministic: a re-push finds the same tree.
    expected = {"public/index.html", "public/app.js", "public/common.js", "public/styles.css", "public/favicon.svg",
                "api/infer.js", "netlify/functions/infer.js", "netlify.toml", "vercel.json", "package.json",
                "dev-server.mjs", "README.md", ".env.example", ".gitignore", "clients/python/runpod_client.py",
                "clients/typescript/runpod-client.ts", "clients/typescript/runpod-client.mjs"}  # fmt: skip
    if kind == "llm":
        expected.add("clients/python/openai_example.py")
    assert set(app.files) == expected
    assert scan_files(app.files) == []  # No key, and nothing that looks like one.
    assert ".env" in app.files[".gitignore"].decode().splitlines()
    package = json.loads(app.files["package.json"])
    assert package["name"] == spec.project and "dependencies" not in package  # Nothing to install.
    csp = re.search(
        r'http-equiv="Content-Security-Policy" content="([^"]+)"',
        app.files["public/index.html"].decode(),
    )
    assert csp is not None and "script-src 'self'" in html.unescape(csp.group(1))
    assert ("cdn.jsdelivr.net" in csp.group(1)) == (media == "model3d")


def test_env_example_lists_every_variable_the_code_reads_and_no_values() -> None:
    app = render_app(spec_for("llm"))
    lines = [
        line
        for line in app.files[".env.example"].decode().splitlines()
        if line and not line.startswith("#")
    ]
    assert {line.split("=")[0] for line in lines} == ENV_NAMES
    assert all(line.endswith("=") for line in lines)
    read = set(re.findall(r"env\.([A-Z_]+)", app.files["api/infer.js"].decode()))
    read |= set(re.findall(r"process\.env\.([A-Z_]+)", app.files["dev-server.mjs"].decode()))
    assert read == ENV_NAMES


def test_host_views_and_the_netlify_function_zip() -> None:
    app = render_app(spec_for("media", media="model3d"))
    assert set(app.browser_files()) == {
        "index.html",
        "app.js",
        "common.js",
        "styles.css",
        "favicon.svg",
    }
    assert set(app.vercel_files()) == {f"public/{p}" for p in app.browser_files()} | {
        "api/infer.js",
        "package.json",
        "vercel.json",
    }
    netlify = app.netlify_files()
    assert netlify["_redirects"] == b"/api/*  /.netlify/functions/:splat  200!\n"
    zipped = app.netlify_function_zip()
    assert zipped == render_app(spec_for("media", media="model3d")).netlify_function_zip()
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert (
            archive.namelist() == ["infer.js"]
            and archive.read("infer.js") == app.files["api/infer.js"]
        )
    assert (
        json.loads(
            app.files["public/index.html"]
            .decode()
            .split('id="app-config">')[1]
            .split("</script>")[0]
        )["modelViewer"]
        == MODEL_VIEWER
    )


def test_write_to_keeps_the_dev_server_executable(tmp_path: Path) -> None:
    written = render_app(spec_for("image")).write_to(tmp_path / "app")
    assert len(written) == 17
    assert (tmp_path / "app/dev-server.mjs").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "app/api/infer.js").stat().st_mode & 0o777 == 0o644


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: dict[str, str] = {}
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag)
        self.scripts += tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] in {"title", "h1", "script"}:
            self.text[self.stack[-1]] = self.text.get(self.stack[-1], "") + data


_NASTY = st.sampled_from(["</script><script>alert(1)</script>", "\"'`${x}`", "<!--", "</title>", "&amp;", "]]>",
                          "ü🚀 Ω", "\\", "# heading", "[link](javascript:x)", "{{ 7*7 }}", "</SCRIPT >"])  # fmt: skip
_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp")), max_size=20)
_TITLES = (
    st.lists(st.one_of(_NASTY, _TEXT), min_size=1, max_size=4)
    .map("".join)
    .filter(lambda t: 0 < len(t.strip()) <= 80)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_TITLES, description=_TITLES)
def test_titles_are_escaped_for_html_javascript_and_markdown(title: str, description: str) -> None:
    spec = spec_for("image", title=title, description=description)
    app = render_app(spec)
    index = app.files["public/index.html"].decode()
    page = _Page()
    page.feed(index)
    assert page.scripts == 2  # The config and app.js: nothing injected.
    assert page.text["title"] == spec.title and page.text["h1"] == spec.title
    config = index.split('id="app-config">')[1].split("</script>")[0]
    assert "<" not in config and json.loads(config)["title"] == spec.title
    readme_title = app.files["README.md"].decode().splitlines()[0]
    assert "<" not in readme_title and "`" not in readme_title.replace("\\`", "")
    server = re.search(r"^const APP = (.*);$", app.files["api/infer.js"].decode(), re.M)
    assert server is not None and json.loads(server.group(1))["model"] == spec.endpoint.model_id


@given(value=st.one_of(_TEXT, _NASTY, st.from_regex(r"[a-z0-9-]{1,70}", fullmatch=True)))
def test_only_safe_names_and_ids_are_accepted(value: str) -> None:
    for field, safe in (
        ("project", r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"),
        ("endpoint_id", r"[a-z0-9][a-z0-9-]*"),
    ):
        try:
            if field == "project":
                AppSpec.model_validate(spec_for("llm").model_dump() | {"project": value})
            else:
                EndpointInfo(endpoint_id=value, model_id="a/b")
        except ValidationError:
            continue
        assert re.fullmatch(safe, value) and len(value) <= 64


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"title": "two\nlines"}, "single line"),
        ({"title": "bidi \u202e override"}, "single line"),
        ({"title": " "}, "at least 1 character"),
        ({"project": "Has_Caps"}, "cannot name the repo"),
        ({"project": "a--b"}, "cannot name the repo"),
        ({"media": "video"}, "only for kind='media'"),
    ],
)
def test_spec_rejections_say_what_to_do(fields: dict[str, str], error: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(error)):
        spec_for("llm", **fields)
    with pytest.raises(ValidationError, match="owner/name"):
        EndpointInfo(endpoint_id="abc123", model_id="../etc/passwd")
    with pytest.raises(ValidationError, match="media='model3d'"):
        AppSpec.model_validate(spec_for("llm").model_dump() | {"kind": "media"})


def test_local_env_only_on_request_with_mode_0600(tmp_path: Path) -> None:
    root = tmp_path / "app"
    render_app(spec_for("llm")).write_to(root)
    values = {
        "RUNPOD_API_KEY": SecretStr("rpa_LOCAL123"),
        "RUNPOD_ENDPOINT_ID": SecretStr("ep0webapp01"),
    }
    with pytest.raises(EnvFileError, match="only when the user asks"):
        write_local_env(root, values, confirm=False)
    assert not (root / ".env").exists()
    path = write_local_env(root, values, confirm=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "RUNPOD_API_KEY=rpa_LOCAL123\nRUNPOD_ENDPOINT_ID=ep0webapp01\n"
    with pytest.raises(EnvFileError, match="exists"):
        write_local_env(root, values, confirm=True)
    path.chmod(0o644)
    write_local_env(root, values, confirm=True, overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(EnvFileError, match="RUNPOD_API_KEY has characters") as caught:
        write_local_env(
            root, {"RUNPOD_API_KEY": SecretStr("a b\nINJECTED=1")}, confirm=True, overwrite=True
        )
    assert "INJECTED" not in str(caught.value)
    (root / ".gitignore").write_text("node_modules/\n")
    with pytest.raises(EnvFileError, match=r"does not list \.env"):
        write_local_env(root, values, confirm=True, overwrite=True)
