"""The page and the custom elements: nothing loaded from another host, every CSS class an
element uses actually defined, and the secret field built so its value cannot persist."""

from __future__ import annotations

import re
from pathlib import Path

from ui.web import page

ROOT = Path(__file__).resolve().parents[2]
ELEMENTS = sorted((ROOT / "public" / "elements").glob("*.jsx"))
# What Chainlit 2.12 lets a custom element import (frontend bundle, "cXe").
ALLOWED_IMPORTS = {
    "react",
    "lucide-react",
    "@/components/ui/button",
    "@/components/ui/input",
    "@/components/ui/label",
}


def _chainlit_css() -> str:
    import chainlit

    assets = Path(chainlit.__file__).parent / "frontend" / "dist" / "assets"
    return "".join(p.read_text() for p in assets.glob("index-*.css"))


def test_external_links_and_scripts_are_dropped() -> None:
    html = (
        '<link rel="preconnect" href="https://fonts.googleapis.com" />\n'
        '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin />\n'
        '<link rel="stylesheet" href="//cdn.jsdelivr.net/npm/katex@0.16.22/dist/katex.min.css"/>\n'
        '<script src="https://cdn.example/x.js"></script>\n'
        '<link rel="stylesheet" href="/public/kriptik.css">\n'
        '<script type="module" src="/assets/index.js"></script>'
    )
    assert page.local_only(html) == (
        '<link rel="stylesheet" href="/public/kriptik.css">\n<script type="module" src="/assets/index.js"></script>'
    )


def test_the_served_page_loads_only_local_fonts_and_styles() -> None:
    import chainlit.server as server

    page.install()
    page.install()  # idempotent
    html = server.get_html_template("")
    assert not re.search(r"""(?:href|src)=["'](?:https?:)?//""", html), html
    assert 'href="/public/fonts/inter.css"' in html and 'href="/public/kriptik.css"' in html
    fonts = (ROOT / "public" / "fonts" / "inter.css").read_text()
    for url in re.findall(r'url\("\./([^"]+)"\)', fonts):
        assert (ROOT / "public" / "fonts" / url).is_file()


def _classes(source: str) -> set[str]:
    found: set[str] = set()
    for literal in re.findall(r'className="([^"]*)"', source):
        found |= set(literal.split())
    for template in re.findall(r"className=\{`([^`]*)`\}", source):
        found |= {t for t in re.sub(r"\$\{[^}]*\}", " ", template).split() if t}
    for quoted in re.findall(r"'(kt-[a-z-]+)'", source):
        found.add(quoted)
    return found


def _selector(name: str) -> str:
    """A class name as a stylesheet writes it: `.text-sm`, `.w-1\\/2`."""
    return "." + re.sub(r"([/.:])", lambda m: "\\" + m.group(1), name)


def test_every_class_an_element_uses_is_defined() -> None:
    defined = _chainlit_css() + (ROOT / "public" / "kriptik.css").read_text()
    missing = {
        (path.name, name)
        for path in ELEMENTS
        for name in _classes(path.read_text())
        if not name.endswith("-") and _selector(name) not in defined
    }
    assert not missing


def test_elements_import_only_what_chainlit_provides() -> None:
    for path in ELEMENTS:
        imports = set(re.findall(r"from '([^']+)'", path.read_text()))
        assert imports <= ALLOWED_IMPORTS, path.name


def test_the_secret_field_never_reaches_props() -> None:
    source = (ROOT / "public" / "elements" / "SecretInput.jsx").read_text()
    assert "updateElement" not in source  # would store the props with the thread
    assert "callAction" not in source and "sendUserMessage" not in source
    # Two answers: the key itself, or "connect instead" (which carries no value at all).
    assert source.count("submitElement(") == 2 and "submitElement({ value: secret })" in source
    assert "submitElement({ connect: true })" in source
    assert 'type="password"' in source and 'autoComplete="new-password"' in source
