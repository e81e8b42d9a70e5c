"""The real public ComfyUI workflows kept as test fixtures (sources: fixtures/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

FIXTURE_DIR: Final = Path(__file__).resolve().parent / "fixtures"

#: SDXL 1.0 base text-to-image, API format, core nodes only.
SDXL: Final = "sdxl-txt2img.json"
#: FLUX.1 schnell text-to-image from one checkpoint, API format, core nodes only.
FLUX: Final = "flux-schnell-txt2img.json"
#: FLUX.1 dev (Nunchaku 4-bit) with two LoRAs and custom nodes, API format.
CUSTOM_LORA: Final = "nunchaku-flux-dev-lora.json"
#: FLUX.1 dev + ControlNet + an input image, one custom node; both formats.
CONTROLNET: Final = "nunchaku-flux-dev-controlnet.json"
CONTROLNET_UI: Final = "nunchaku-flux-dev-controlnet.ui.json"
#: The editor's own save of CUSTOM_LORA: an older UI save that leaves its custom nodes'
#: widgets unnamed, so it parses only with `widget_names` (else: "Export (API)" asked).
CUSTOM_LORA_UI: Final = "nunchaku-flux-dev-lora.ui.json"

#: Every fixture that `parse_workflow` takes as it is.
FIXTURES: Final = (SDXL, FLUX, CUSTOM_LORA, CONTROLNET, CONTROLNET_UI)
#: Every fixture file.
ALL_FIXTURES: Final = (*FIXTURES, CUSTOM_LORA_UI)


def fixture_bytes(name: str) -> bytes:
    """The bytes of a fixture, exactly as published."""
    if name not in ALL_FIXTURES:
        raise KeyError(f"no fixture {name!r}; the fixtures are {ALL_FIXTURES}")
    return (FIXTURE_DIR / name).read_bytes()
