"""`gridgov integration issue/list/revoke`, run as a user runs it: a real process and database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from gis import local_pg
from people.exceptions import PeopleError
from people.integrations import check_key
from tests.api.cli_run import run
from tests.factories import DISTRICT, admin_tree, fresh_database


@pytest.fixture(scope="module")
def keys_database(database_url: str) -> Iterator[str]:
    """A database of its own with the district 420502: the commands commit."""
    text_url = fresh_database(database_url, "_keys")
    engine = create_engine(text_url)
    with Session(engine) as session:
        admin_tree(session)
        session.commit()
    engine.dispose()
    yield text_url
    local_pg.drop_database(text_url)


def _works(database_url: str, key: str) -> bool:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            check_key(session, key=key)
            return True
    except PeopleError:
        return False
    finally:
        engine.dispose()


def test_issue_prints_the_key_once_list_hides_it_and_revoke_stops_it(keys_database):
    issued = run(
        "integration",
        "issue",
        "city-app",
        "--area",
        DISTRICT + "000000",
        database_url=keys_database,
        check=True,
    )
    key = issued.stdout.strip().splitlines()[-1]
    assert key.startswith("g311_")
    assert _works(keys_database, key)

    listed = run("integration", "list", database_url=keys_database, check=True)
    assert "city-app" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout

    run("integration", "revoke", "city-app", database_url=keys_database, check=True)
    assert not _works(keys_database, key)
    assert "revoked" in run("integration", "list", database_url=keys_database).stdout


def test_an_unknown_area_is_one_sentence_and_exit_1(keys_database):
    result = run(
        "integration", "issue", "other-app", "--area", "999999000000", database_url=keys_database
    )
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
