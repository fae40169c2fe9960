"""Read `exports/*.yml` into assets of the graph: `exports.<name>`, downstream of the asset
each export reads.

Checked at load, at the YAML line: the asset exported exists and is a table (an export reads
the difference between two of its Delta versions), names are not given twice, and, when the
asset's columns are known before it is built, the key and mapped columns are among them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from headwater.digest import content_hash
from headwater.errors import ConfigError
from headwater.project.definition import Asset, ProjectDefinition
from headwater.project.exports import DOCS, FOLDER, NAMESPACE, ExportConfig, ExportsFile
from headwater.project.kinds import AssetKind, BuildKind
from headwater.project.serving import ADMIN_ROLE
from headwater.project.yamlfile import YamlDocument, closest, load_yaml, validated

_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$""")


def read_exports(
    definition: ProjectDefinition, columns_of: Callable[[str], Sequence[str] | None]
) -> list[Asset]:
    """The export assets declared under `exports/`, checked against the project's assets.

    Raises:
        ConfigError: an invalid file, an unknown or unexportable asset, an unknown column, or
            a name given twice; at its file and line, with the closest valid name.
    """
    folder = definition.root / FOLDER
    if not folder.is_dir():
        return []
    found: dict[str, Asset] = {}
    for path in sorted([*folder.rglob("*.yml"), *folder.rglob("*.yaml")]):
        rel = str(path.relative_to(definition.root))
        document = load_yaml(path, rel)
        parsed: ExportsFile = validated(document, ExportsFile, document.data or {}, DOCS)
        for position, config in enumerate(parsed.exports):
            if not config.is_enabled:
                continue
            asset = _export_asset(definition, config, document, position, path, rel, columns_of)
            if asset.key in found or asset.key in definition.assets:
                other = found[asset.key].rel_path if asset.key in found else "another asset"
                raise ConfigError(
                    f"export {config.name} is declared twice ({other} and {rel})",
                    document.location(("exports", position, "name")),
                    "give each export its own name",
                )
            found[asset.key] = asset
    return list(found.values())


def _export_asset(
    definition: ProjectDefinition,
    config: ExportConfig,
    document: YamlDocument,
    position: int,
    path: Path,
    rel: str,
    columns_of: Callable[[str], Sequence[str] | None],
) -> Asset:
    upstream = _upstream(definition, config, document, position)
    roles = [ADMIN_ROLE, *definition.config.serve.roles]
    if config.role is not None and config.role not in roles:
        near = closest(config.role, roles)
        raise ConfigError(
            f"export {config.name} reads as role {config.role}, which serve.roles does not define",
            document.location(("exports", position, "role")),
            f"did you mean {near}?" if near else "define it under serve.roles in headwater.yml",
        )
    known = columns_of(upstream)
    if known is not None:
        _check_columns(config, list(known), document, position)
    return Asset(
        key=f"{NAMESPACE}.{config.name}",
        namespace=NAMESPACE,
        name=config.name,
        kind=AssetKind.EXPORT,
        path=path,
        rel_path=rel,
        materialized=BuildKind.EXPORT,
        description=config.description,
        tags=tuple(config.tags),
        model=None,
        seed=None,
        sql=None,
        templated=False,
        definition_hash=content_hash(
            "export", json.dumps(config.model_dump(mode="json", by_alias=True), sort_keys=True)
        ),
        depends_on=(upstream,),
        document=document,
        export=config,
    )


def _upstream(
    definition: ProjectDefinition, config: ExportConfig, document: YamlDocument, position: int
) -> str:
    """The key of the asset an export reads."""
    ref = _REF.match(config.from_)
    written = ref.group(1) if ref else config.from_.strip()
    assets = definition.assets
    where = document.location(("exports", position, "from"))
    key = written if written in assets else None
    if key is None:
        by_name = [k for k, a in assets.items() if a.name == written]
        if len(by_name) > 1:
            raise ConfigError(
                f"export {config.name} reads {written}, which names {', '.join(sorted(by_name))}",
                where,
                "write the asset as namespace.name",
            )
        key = by_name[0] if by_name else None
    if key is None:
        near = closest(written, [*assets, *(a.name for a in assets.values())])
        raise ConfigError(
            f"export {config.name} reads {written}, which is not an asset of the project",
            where,
            f"did you mean {near}?" if near else "name an asset as namespace.name",
        )
    if not assets[key].is_stored:
        raise ConfigError(
            f"export {config.name} reads {key}, a {assets[key].materialized}: an export sends "
            "the changes between two versions of a table",
            where,
            f"materialize {key} as a table (or incremental), or export a table built from it; "
            f"see {DOCS}",
        )
    return key


def _check_columns(
    config: ExportConfig, known: list[str], document: YamlDocument, position: int
) -> None:
    """The key and mapped columns are columns of the asset."""
    checks: list[tuple[str, tuple[str | int, ...]]] = [
        (name, ("exports", position, "key")) for name in config.key
    ]
    if config.columns is not None:
        checks += [
            (source, ("exports", position, "columns", target))
            for target, source in config.columns.items()
        ]
    for name, where in checks:
        if name in known:
            continue
        near = closest(name, known)
        raise ConfigError(
            f"export {config.name}: {name} is not a column of {config.from_}",
            document.location(where),
            f"did you mean {near}?" if near else f"its columns are {', '.join(known)}",
        )
