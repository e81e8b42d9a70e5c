"""The web app's process loads neither Literal AI's client (nor Traceloop's SDK behind it)
nor httpx's command line at start, and both still work in full on first use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.services.kriptik import PROJECT_ROOT


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=PROJECT_ROOT, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_app_module_loads_without_the_unused_clients() -> None:
    out = _run("""
        import sys
        import ui.web.app
        print("chainlit" in sys.modules)
        print(sorted(m for m in sys.modules if m.startswith(("literalai.client", "traceloop.sdk."))))
        print(getattr(sys.modules["httpx._main"], "__file__", None))
    """)
    assert out.splitlines() == ["True", "[]", "None"]


def test_every_deferred_name_still_resolves_to_the_real_one() -> None:
    out = _run("""
        import ui.web.app  # the deferrals in place
        import literalai
        from literalai.client import LiteralClient
        print(literalai.LiteralClient is LiteralClient)
        from literalai.observability import step
        from traceloop.sdk import Traceloop
        print(step.Traceloop.init is Traceloop.init, Traceloop.__module__)
        from chainlit.data.literalai import LiteralDataLayer
        print(LiteralDataLayer.__name__)
        import httpx
        httpx.main(["--help"], standalone_mode=False)
    """)
    lines = out.splitlines()
    assert lines[:3] == ["True", "True traceloop.sdk", "LiteralDataLayer"]
    assert any("Usage: httpx" in line for line in lines[3:])


def test_nothing_is_deferred_once_chainlit_is_loaded() -> None:
    out = _run("""
        import sys
        import chainlit
        import ui.web.app
        print("traceloop.sdk.client" in sys.modules)
    """)
    assert out.strip() == "True"
