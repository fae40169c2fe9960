"""`headwater docs export`: the project's documentation as a static site that works offline.

The site is the UI's graph and asset pages rendered to files (descriptions, columns, column
lineage, SQL), with relative links and the bundled CSS and JavaScript beside them, plus
`catalog.json` with the same facts for machines. Nothing in it needs a server or the network.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.ui.pages import Links, Workspace, asset_page, graph_page
from headwater.ui.render import STATIC, render

if TYPE_CHECKING:
    from collections.abc import Callable

    from headwater.workspace import Project


def export_site(
    project: Project, directory: Path, on_page: Callable[[str], None] | None = None
) -> list[Path]:
    """Write the documentation site of `project` into `directory` (created if needed) and
    return the files written; `on_page` hears each asset as its page is written."""
    directory.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(project)
    name = project.definition.config.name
    written: list[Path] = []

    def write(relative: str, text: str) -> None:
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    write("index.html", render("graph.html", graph_page(workspace, None, Links(True)), name))
    graph = workspace.column_graph()
    manifest: dict[str, Any] = {"project": name, "assets": {}}
    for key, asset in project.definition.assets.items():
        context = asset_page(workspace, key, None, Links(True, depth=1))
        write(f"assets/{key}.html", render("asset.html", context, name))
        info = graph.assets.get(key)
        manifest["assets"][key] = {
            "kind": asset.build_kind,
            "description": context["description"],
            "owner": asset.owner,
            "tags": list(asset.tags),
            "depends_on": list(asset.depends_on),
            "path": asset.rel_path,
            "columns": context["columns"],
            "column_lineage": info.lineage.to_json() if info and info.lineage else None,
        }
        if on_page is not None:
            on_page(key)
    write("catalog.json", json.dumps(manifest, indent=2, default=str))
    (directory / "static").mkdir(exist_ok=True)
    for asset_file in STATIC.iterdir():
        target = directory / "static" / asset_file.name
        shutil.copyfile(asset_file, target)
        written.append(target)
    return written
