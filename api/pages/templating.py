"""Server-rendered pages: Jinja templates and where the static assets are served from."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

PAGES_DIR = Path(__file__).parent
STATIC_DIR = PAGES_DIR / "static"
# Leaflet, folium's plugins and their styles, installed from the npm registry by `make`.
VENDOR_DIR = PAGES_DIR.parents[1] / "maps" / "vendor" / "node_modules"
STATIC_URL = "/static/app"
VENDOR_URL = "/static/vendor"

templates = Jinja2Templates(directory=PAGES_DIR / "templates")
templates.env.globals.update(static=STATIC_URL, vendor=VENDOR_URL)
