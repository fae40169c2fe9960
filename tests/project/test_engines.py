"""Which engine builds which asset: `engine:`, `engines:`, `models:` folders and a model's own
`engine:`, resolved at load, with unknown names refused at their line."""

from __future__ import annotations

import pytest

from headwater.errors import ConfigError
from tests.conftest import ProjectFactory

MODELS = {
    "seeds/countries.csv": "code,name\nFR,France\n",
    "models/staging/orders.sql": "select 1 as id\n",
    "models/marts/revenue.sql": "select * from staging.orders\n",
    "models/marts/finance/ledger.sql": "select * from staging.orders\n",
    "models/marts/finance/small.sql": "select * from staging.orders\n",
    "models/marts/finance/small.yml": "engine: duckdb\n",
}


def engines_of(project) -> dict[str, tuple[str, str]]:
    definition = project.definition
    return {
        key: (name, config.type)
        for key, asset in definition.assets.items()
        for name, config in [definition.engine_of(asset)]
    }


def test_without_settings_everything_builds_on_the_default_duckdb(make_project: ProjectFactory):
    project = make_project(MODELS)
    assert set(engines_of(project).values()) == {("default", "duckdb")}


def test_folders_models_and_the_default_pick_the_engine(make_project: ProjectFactory):
    project = make_project(
        MODELS,
        config=(
            "engines:\n"
            "  big:\n"
            "    {type: spark, master: 'local[4]', settings: {spark.sql.shuffle.partitions: 8}}\n"
            "models:\n"
            "  marts: {engine: spark}\n"
            "  marts/finance: {engine: big}\n"
        ),
    )
    engines = engines_of(project)
    assert engines["staging.orders"] == ("default", "duckdb")
    assert engines["marts.revenue"] == ("spark", "spark")
    # the deepest folder wins over its parent
    assert engines["marts_finance.ledger"] == ("big", "spark")
    # a model's sidecar wins over its folder; `duckdb` is the project's own engine here
    assert engines["marts_finance.small"] == ("default", "duckdb")
    # a seed loads on the embedded engine
    assert engines["raw.countries"] == ("default", "duckdb")
    big = project.definition.engine_of(project.definition.assets["marts_finance.ledger"])[1]
    assert big.master == "local[4]"
    assert big.settings == {"spark.sql.shuffle.partitions": 8}


def test_a_spark_default_still_loads_seeds_on_duckdb(make_project: ProjectFactory):
    project = make_project(MODELS, config="engine: {type: spark, master: 'local[2]'}\n")
    engines = engines_of(project)
    assert engines["staging.orders"] == ("default", "spark")
    assert engines["raw.countries"] == ("duckdb", "duckdb")
    assert engines["marts_finance.small"] == ("duckdb", "duckdb")
    assert project.definition.embedded_engine.type == "duckdb"


def test_an_unknown_engine_in_a_sidecar_is_refused_at_its_line(make_project: ProjectFactory):
    project = make_project(
        {**MODELS, "models/marts/revenue.yml": "description: x\nengine: sprak\n"},
    )
    with pytest.raises(ConfigError) as caught:
        _ = project.definition
    error = caught.value
    assert error.location.file is not None and error.location.file.endswith("revenue.yml")
    assert error.location.line == 2
    assert "model marts.revenue names engine 'sprak'" in error.message
    assert "did you mean 'spark'" in (error.hint or "")


def test_an_unknown_engine_under_models_is_refused(make_project: ProjectFactory):
    project = make_project(MODELS, config="models:\n  marts: {engine: flink}\n")
    with pytest.raises(ConfigError) as caught:
        _ = project.definition
    assert caught.value.location.file == "headwater.yml"
    assert "models: marts names engine 'flink'" in caught.value.message


def test_spark_settings_on_a_duckdb_engine_are_refused(make_project: ProjectFactory):
    project = make_project(MODELS, config="engine: {type: duckdb, master: 'local[2]'}\n")
    with pytest.raises(ConfigError) as caught:
        _ = project.definition
    assert "'master' is a Spark setting" in str(caught.value)


def test_a_models_folder_that_holds_no_model_is_refused(make_project: ProjectFactory):
    project = make_project(MODELS, config="models:\n  models/marts: {engine: spark}\n")
    with pytest.raises(ConfigError) as caught:
        _ = project.definition
    assert "models: models/marts names no folder of models" in caught.value.message


def test_an_engine_named_like_the_other_type_is_refused(make_project: ProjectFactory):
    project = make_project(MODELS, config="engines:\n  duckdb: {type: spark}\n")
    with pytest.raises(ConfigError) as caught:
        _ = project.definition
    assert "engines: duckdb is of type spark" in caught.value.message


def test_the_project_engine_wins_over_an_engines_entry_of_the_same_name(
    make_project: ProjectFactory,
):
    project = make_project(
        MODELS, config="engine: {type: duckdb, threads: 1}\nengines:\n  duckdb: {threads: 3}\n"
    )
    assert project.definition.embedded_engine.threads == 1
