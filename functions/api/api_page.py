"""The upload page: static/index.html with the server's settings filled in, and its assets.

The page reads its limits from data attributes that come from api_core, so the
browser's pre-upload check and the POST policy use the same numbers.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

import api_core as core

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}


@cache
def _read(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def asset(name: str) -> tuple[str, str] | None:
    """(body, content type) of a whitelisted asset, else None. The name never reaches the filesystem otherwise."""
    if name not in ASSETS:
        return None
    return _read(name), ASSETS[name]


def index_html(settings: core.Settings) -> str:
    values = {
        "AUTH": "on" if settings.auth_enabled else "off",
        "MAX_UPLOAD_BYTES": str(settings.max_upload_bytes),
        "MAX_UPLOAD_MB": f"{settings.max_upload_bytes / 1024 / 1024:g}",
        "EXTENSIONS": ",".join(core.EXTENSIONS),
        "AS_OF": settings.page_as_of,
    }
    page = _read("index.html")
    for name, value in values.items():
        page = page.replace("{{" + name + "}}", html.escape(value, quote=True))
    return page


def security_headers(connect_origins: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
    """CSP: scripts and styles from this origin only; fetches to this origin and the given bucket origins."""
    connect = ["'self'", *(o for o in connect_origins if _is_origin(o))]
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           f"connect-src {' '.join(connect)}; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


def _is_origin(value: str) -> bool:
    scheme, sep, host = value.partition("://")
    return bool(sep) and scheme in ("http", "https") and bool(host) and not any(c in host for c in "/ ;'*")
