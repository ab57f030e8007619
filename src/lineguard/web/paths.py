"""Where the dashboard's files live inside the installed package."""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "WEB_DIR"]

WEB_DIR = Path(__file__).resolve().parent
#: One HTML shell per page (``<name>.html``): layout and labelled controls, no data.
TEMPLATES_DIR = WEB_DIR / "templates"
#: Scripts, styles, images and ``vendor/`` (third-party code with its licence).
STATIC_DIR = WEB_DIR / "static"
