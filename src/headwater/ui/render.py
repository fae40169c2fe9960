"""Turning page contexts into HTML with the bundled Jinja templates."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.catalog.statuses import CheckStatus
from headwater.ui.formatting import status_class

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

CHECK_CLASS: dict[str, str] = {
    CheckStatus.PASS: "ok",
    CheckStatus.WARN: "warn",
    CheckStatus.FAIL: "bad",
    CheckStatus.ERROR: "bad",
}


@cache
def environment() -> jinja2.Environment:
    """The template environment (HTML autoescaped everywhere)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["status_class"] = status_class
    env.globals["check_class"] = lambda status: CHECK_CLASS.get(status, "none")
    return env


def render(template: str, context: dict[str, Any], project_name: str, nav: str = "") -> str:
    """The HTML of `template` with `context`."""
    return (
        environment().get_template(template).render(**context, project_name=project_name, nav=nav)
    )
