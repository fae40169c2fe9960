"""Turning page contexts into HTML with the bundled Jinja templates."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.ui.pages import STATUS_CLASS

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

CHECK_CLASS = {"pass": "ok", "warn": "warn", "fail": "bad", "error": "bad"}


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
    env.globals["status_class"] = lambda status: STATUS_CLASS.get(status, "none")
    env.globals["check_class"] = lambda status: CHECK_CLASS.get(status, "none")
    return env


def render(template: str, context: dict[str, Any], project_name: str, nav: str = "") -> str:
    """The HTML of `template` with `context`."""
    return (
        environment().get_template(template).render(**context, project_name=project_name, nav=nav)
    )
