"""The HTML page Chainlit serves, made to load nothing from other hosts.

Chainlit 2.12's `index.html` preconnects to Google Fonts and links KaTeX's stylesheet on
jsDelivr. Fonts come from `public/theme.json` (`custom_fonts`, served from
`public/fonts/`), which replaces the Google Fonts link; the preconnects and the KaTeX
link stay in the template whatever the configuration, so we drop them here. LaTeX is off
in `.chainlit/config.toml`, so nothing needs KaTeX's CSS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, cast

# A <link> whose href leaves the app (https://, http:// or protocol-relative //host).
_EXTERNAL_LINK: Final = re.compile(
    r"""<link\b[^>]*\bhref\s*=\s*["'](?:https?:)?//[^"']*["'][^>]*>\s*""", re.IGNORECASE
)
_EXTERNAL_SCRIPT: Final = re.compile(
    r"""<script\b[^>]*\bsrc\s*=\s*["'](?:https?:)?//[^"']*["'][^>]*>\s*</script>\s*""",
    re.IGNORECASE,
)


def local_only(html: str) -> str:
    """The page without tags that make the browser fetch from another host."""
    return _EXTERNAL_SCRIPT.sub("", _EXTERNAL_LINK.sub("", html))


def install() -> None:
    """Wrap Chainlit's page template so every page it serves is `local_only`."""
    import chainlit.server as server

    original = cast("Callable[[str], str]", server.get_html_template)  # pyright: ignore[reportUnknownMemberType] - untyped in Chainlit
    if getattr(original, "_local_only", False):
        return

    def template(root_path: str) -> str:
        return local_only(original(root_path))

    template._local_only = True  # type: ignore[attr-defined]  # marker against double wrapping
    server.get_html_template = template
