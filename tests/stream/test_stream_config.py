"""A stream's YAML at project load: an aggregate that is not one row's value is an error at
its line, and a project whose streams did not change loads without parsing their SQL again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headwater.errors import ConfigError
from headwater.project.loader import load_project
from tests.conftest import write_files

STREAM = (
    "source: {{kind: generator, events: 10}}\n"
    "sql: select event_time, key from events join main.keys using (key)\n"
    "event_time: event_time\n"
    "window:\n"
    "  type: tumbling\n"
    "  size: 1s\n"
    "  aggregates:\n"
    "    n: count(*)\n"
    "    {name}: {aggregate}\n"
    "watermark: 1s\n"
)


def _project(tmp_path: Path, aggregate: str) -> Path:
    write_files(
        tmp_path,
        {
            "headwater.yml": "name: t\n",
            "models/keys.sql": "select range as key from range(3)",
            "streams/s.yml": STREAM.format(name="bad", aggregate=aggregate),
        },
    )
    return tmp_path


@pytest.mark.parametrize(
    "aggregate,said",
    [
        ("sum(count(key))", "holds an aggregate or window function of its own"),
        ("max(key +)", "is not a SQL expression"),
    ],
)
def test_an_aggregate_that_is_not_one_rows_value_is_refused_at_its_line(
    tmp_path: Path, aggregate: str, said: str
) -> None:
    root = _project(tmp_path, aggregate)
    for _ in range(2):  # the second load answers from the parse cache, the same way
        with pytest.raises(ConfigError, match=said) as raised:
            load_project(root)
        assert raised.value.location.file == "streams/s.yml"
        assert raised.value.location.line == 9


def test_an_unchanged_stream_loads_without_parsing_its_sql(tmp_path: Path) -> None:
    root = _project(tmp_path, "max(key * 2)")
    assert load_project(root).assets["streams.s"].depends_on == ("main.keys",)
    again = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from headwater.project.loader import load_project; "
            f"d = load_project(__import__('pathlib').Path({str(root)!r})); "
            "print(d.assets['streams.s'].depends_on, 'sqlglot' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert again.stdout.strip() == "('main.keys',) False"
