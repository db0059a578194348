"""Pages: Admin > Configuration: every setting, its value and where it came from.

Secret settings (the Fernet key, the web server's secret key, a database URL's password)
show as *** through ``Settings.display_value``; nothing here can change a setting.
"""

from __future__ import annotations

from itertools import groupby

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sluice.api.deps import Ctx, Editor
from sluice.config.options import find_option
from sluice.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/configuration")
def configuration_page(request: Request, ctx: Ctx, user: Editor) -> Response:
    """The settings, by section, with secrets hidden."""
    settings = ctx.settings
    rows = [
        {
            "section": section,
            "key": key,
            "value": settings.display_value(section, key),
            "source": source,
            "doc": find_option(section, key).doc,
        }
        for section, key, _, source in settings.items()
    ]
    sections = [(name, list(items)) for name, items in groupby(rows, key=lambda r: r["section"])]
    return render(request, "admin_configuration.html", {
        "nav": "admin", "sections": sections, "config_file": settings.config_file,
    })  # fmt: skip
