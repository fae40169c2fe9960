"""The builders a run can use: importing each capability's builder module registers them."""

from __future__ import annotations

from headwater.build.builders import Builder, builder_for


def builder(build_kind: str) -> Builder:
    """The builder of `build_kind`, with every built-in capability's builders registered."""
    # imported for their registrations, here so that `headwater --help` loads none of them
    import headwater.exports.builder
    import headwater.ingest.load
    import headwater.stream.builder
    import headwater.stream.cdc.builder
    import headwater.transform.materializations  # noqa: F401

    return builder_for(build_kind)
