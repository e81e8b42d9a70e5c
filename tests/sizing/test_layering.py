"""tools/sizing stays below the agent and the UI, and stays cheap to import."""

from __future__ import annotations

import subprocess
import sys

from tests.services.kriptik import PROJECT_ROOT


def test_sizing_imports_neither_the_agent_layer_nor_the_hub_client_up_front() -> None:
    probe = (
        "import sys, tools.sizing; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'pydantic_ai', 'chainlit', 'agent', 'ui', 'huggingface_hub'}]; "
        "print(','.join(sorted(bad)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == ""
