"""The `gridgov` command, run as a user runs it: a real process on a real database."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date

import pytest

from gis import local_pg
from tests.api.cli_run import run
from tests.factories import fresh_database


@pytest.fixture(scope="module")
def cli_database(database_url: str) -> Iterator[str]:
    """A database of its own: the commands commit, so they must not share the test database."""
    text_url = fresh_database(database_url, "_cli")
    yield text_url
    local_pg.drop_database(text_url)


@pytest.fixture(scope="module")
def seeded(cli_database: str) -> str:
    run("seed", "demo", database_url=cli_database, check=True)
    return cli_database


def test_swapped_coordinates_exit_non_zero_with_one_sentence(cli_database):
    result = run("locate", "30.7", "111.3", database_url=cli_database)
    assert result.returncode == 1
    assert "did you swap lat and lon" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_clear_sentence(tmp_path):
    result = run(
        "locate", "111.29", "30.71", database_url="postgresql://postgres@127.0.0.1:1/nowhere"
    )
    assert result.returncode == 1
    assert "database is not reachable" in result.stderr and "Traceback" not in result.stderr


def test_importing_a_missing_file_says_so(cli_database, tmp_path):
    result = run("import", "grids", str(tmp_path / "nope.geojson"), database_url=cli_database)
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_exporting_to_an_unknown_suffix_names_the_accepted_ones(seeded, tmp_path):
    result = run("export", "grids", str(tmp_path / "grids.xyz"), database_url=seeded)
    assert result.returncode == 1
    assert ".geojson" in result.stderr and ".gpkg" in result.stderr


def test_seeding_twice_does_not_duplicate_the_demo_city(seeded):
    again = run("seed", "demo", database_url=seeded, check=True)
    assert "already present" in again.stdout
    status = run("db", "status", database_url=seeded, check=True)
    assert "database: DATABASE_URL, migration " in status.stdout
    assert "migration none" not in status.stdout


def test_locate_in_the_demo_city_prints_grid_and_district_as_json(seeded):
    result = run("locate", "111.295", "30.715", "--json", database_url=seeded, check=True)
    body = json.loads(result.stdout)
    assert body["district"]["code"] == "420502000000"
    assert body["grid"]["code"].startswith("420502") and len(body["grid"]["code"]) == 15


def test_address_search_in_the_demo_city(seeded):
    result = run("address", "西陵区西陵街道西陵一路3号", "--json", database_url=seeded, check=True)
    (best,) = json.loads(result.stdout)["candidates"]
    assert best["address"] == "西陵区西陵街道西陵一路3号" and best["score"] == 0.96
    nothing = run("address", "不存在大道12号", database_url=seeded, check=True)
    assert "no building matches" in nothing.stdout
    refused = run("address", " ", database_url=seeded)
    assert refused.returncode == 1 and "q is empty" in refused.stderr


def test_export_then_import_into_a_fresh_database_keeps_every_grid(seeded, tmp_path):
    path = tmp_path / "grids.gpkg"
    exported = run("export", "grids", str(path), database_url=seeded, check=True)
    count = int(exported.stdout.split()[1])
    assert count >= 150
    # Importing the same grids again is refused as duplicates, and nothing is written.
    again = run("import", "grids", str(path), database_url=seeded)
    assert again.returncode == 1 and "duplicate" in (again.stderr + again.stdout).lower()


def test_escalation_job_supervises_the_overdue_demo_events_once(seeded):
    first = run("escalate", database_url=seeded, check=True)
    red = int(re.search(r"(\d+) red", first.stdout).group(1))
    assert red > 0, first.stdout
    again = run("escalate", database_url=seeded, check=True)
    assert re.search(r"0 yellow, 0 red", again.stdout), again.stdout


def test_people_import_reports_bad_rows_and_writes_an_error_file(seeded, tmp_path):
    from people.documents import make_id_number

    template = tmp_path / "template.csv"
    run("people", "template", str(template), database_url=seeded, check=True)
    header = template.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    ledger = tmp_path / "ledger.csv"
    good = {
        "姓名": "测试甲",
        "证件号码": make_id_number("420502", date(1990, 1, 2), 7),
        "人口类型": "户籍人口",
    }
    bad = {"姓名": "测试乙", "证件号码": "420502199001020000", "人口类型": "户籍人口"}
    rows = [",".join(header)] + [",".join(r.get(h, "") for h in header) for r in (good, bad)]
    ledger.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run("people", "import", str(ledger), "--as", "admin", database_url=seeded)
    assert result.returncode == 2, result.stderr
    assert "check digit" in result.stdout + result.stderr
    errors = list(tmp_path.glob("ledger.errors.csv"))
    assert errors and "420502199001020000" in errors[0].read_text(encoding="utf-8-sig")


def test_the_demo_city_has_owned_parts_and_a_parts_file_imports_with_row_numbers(seeded, tmp_path):
    from sqlalchemy import create_engine, text

    engine = create_engine(seeded)
    with engine.connect() as connection:
        parts, unowned = connection.execute(
            text("SELECT count(*), count(*) FILTER (WHERE owner_unit_id IS NULL) FROM city_part")
        ).one()
    assert parts >= 300 and unowned == 0
    path = tmp_path / "parts.csv"
    path.write_text(
        "code,lon,lat\n4205020118900001,111.295,30.715\n4205020118900002,north,30.715\n",
        encoding="utf-8",
    )
    refused = run("import", "parts", str(path), database_url=seeded)
    assert refused.returncode == 1
    assert "lon 'north' is not a number" in refused.stderr and "│ 2" in refused.stderr
    path.write_text("code,lon,lat\n4205020118900001,111.295,30.715\n", encoding="utf-8")
    done = run("import", "parts", str(path), database_url=seeded, check=True)
    assert "imported 1 of 1 parts" in done.stdout
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM city_part")).scalar() == parts + 1
    engine.dispose()


def test_the_demo_city_has_standard_addresses_and_a_plate_list_imports(seeded, tmp_path):
    from sqlalchemy import create_engine, text

    engine = create_engine(seeded)
    with engine.connect() as connection:
        unattached = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM building WHERE address_code IS NULL)"
                " + (SELECT count(*) FROM house WHERE address_code IS NULL)"
            )
        ).scalar()
        before = connection.execute(text("SELECT count(*) FROM std_address")).scalar()
    assert unattached == 0 and before > 0
    path = tmp_path / "plates.csv"
    path.write_text("road,number,lon,lat\n测试新路,1,111.295,30.715\n,2,111.295,30.715\n", "utf-8")
    refused = run("import", "addresses", str(path), database_url=seeded)
    assert refused.returncode == 1 and "road is missing" in refused.stderr
    path.write_text("road,number,lon,lat\n测试新路,1,111.295,30.715\n", encoding="utf-8")
    done = run("import", "addresses", str(path), database_url=seeded, check=True)
    assert "imported 1 of 1 addresses" in done.stdout
    with engine.connect() as connection:
        after = connection.execute(text("SELECT count(*) FROM std_address")).scalar()
    assert after == before + 2  # the road and its plate
    engine.dispose()


def test_migrate_gives_buildings_and_houses_without_one_their_standard_address(seeded):
    """A database from before the standard addresses (rows unattached) is attached by
    `gridgov migrate`, and the address search finds such a building again."""
    from sqlalchemy import create_engine, text

    engine = create_engine(seeded)
    pick = (
        "SELECT id FROM building WHERE address_code IS NOT NULL AND address LIKE '%号' "
        "ORDER BY id LIMIT 3"
    )
    with engine.begin() as connection:
        ids = list(connection.scalars(text(pick)))
        houses = connection.execute(
            text("UPDATE house SET address_code = NULL WHERE building_id = ANY(:ids)"),
            {"ids": ids},
        ).rowcount
        connection.execute(
            text("UPDATE building SET address_code = NULL WHERE id = ANY(:ids)"), {"ids": ids}
        )
        code, address = connection.execute(
            text("SELECT code, address FROM building WHERE id = :id"), {"id": ids[0]}
        ).one()
    done = run("migrate", database_url=seeded, check=True)
    assert f"standard addresses for 3 buildings and {houses} houses" in " ".join(
        done.stdout.split()
    )
    with engine.connect() as connection:
        left = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM building WHERE address_code IS NULL)"
                " + (SELECT count(*) FROM house WHERE address_code IS NULL)"
            )
        ).scalar()
    assert left == 0
    found = run("address", address, "--json", database_url=seeded, check=True)
    assert json.loads(found.stdout)["candidates"][0]["building_code"] == code
    engine.dispose()
