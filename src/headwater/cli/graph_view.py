"""Draw the asset graph in a terminal: assets by depth, each with the assets it reads."""

from __future__ import annotations

import sys

from headwater.cli.output import emit_json, is_terminal
from headwater.project.definition import ProjectDefinition
from headwater.project.kinds import AssetKind

KIND_STYLE = {
    "seed": "magenta",
    "view": "cyan",
    "table": "green",
    "incremental": "blue",
    "snapshot": "yellow",
    "ephemeral": "dim",
}


def depths(definition: ProjectDefinition, keys: list[str]) -> dict[str, int]:
    """Longest distance of each asset from a root of the graph (keys in dependency order)."""
    level: dict[str, int] = {}
    for key in keys:
        parents = [level.get(p, 0) + 1 for p in definition.assets[key].depends_on if p in level]
        level[key] = max(parents, default=0)
    return level


def print_dag(definition: ProjectDefinition, keys: list[str], as_json: bool) -> None:
    """Print the selected part of the graph."""
    assets = definition.assets
    if as_json:
        emit_json(
            {
                "nodes": [
                    {
                        "key": k,
                        "kind": assets[k].kind,
                        "materialized": assets[k].materialized,
                        "path": assets[k].rel_path,
                        "tags": list(assets[k].tags),
                    }
                    for k in keys
                ],
                "edges": [[p, k] for k in keys for p in assets[k].depends_on],
            }
        )
        return
    level = depths(definition, keys)
    lines: list[str] = []
    fancy = is_terminal()
    for key in sorted(keys, key=lambda k: (level[k], k)):
        asset = assets[key]
        kind = "seed" if asset.kind == AssetKind.SEED else asset.materialized
        label = f"[{KIND_STYLE.get(kind, 'white')}]{key}[/]" if fancy else key
        reads = ", ".join(asset.depends_on)
        arrow = f"  <- {reads}" if reads else ""
        lines.append(f"{'  ' * level[key]}{label} ({kind}){arrow}")
    if fancy:
        from rich.console import Console

        Console(highlight=False).print("\n".join(lines))
    else:
        sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.write(f"{len(keys)} assets\n")
