"""`gridgov audit seal / anchor / verify` as an operator runs them, on a database of the
module's own (the commands commit): intact, then a step edited in SQL named with exit 1."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.cli_run import run
from tests.events.workflow_city import MONDAY_10, build_city, do, file


def test_seal_anchor_and_verify_find_an_edit_made_in_sql(own_database, own_engine, tmp_path):
    with Session(own_engine) as session:
        city = build_city(session)
        case = file(city)
        do(city, "disp_w", case, "sign", MONDAY_10 + timedelta(minutes=5))
        session.commit()
    sealed = run("audit", "seal", database_url=own_database, check=True)
    assert "sealed 3 rows in 1 districts" in sealed.stdout  # report, dispatch, sign
    anchors = tmp_path / "anchors.jsonl"
    run("audit", "anchor", "--out", str(anchors), database_url=own_database, check=True)
    assert '"district_code": "420502"' in anchors.read_text()
    intact = run("audit", "verify", "--anchors", str(anchors), database_url=own_database)
    assert intact.returncode == 0 and "intact" in intact.stdout, intact.stdout + intact.stderr
    with own_engine.begin() as connection:
        step = connection.execute(
            text("UPDATE event_step SET note = '改' WHERE action = 'sign' RETURNING id")
        ).scalar_one()
    broken = run("audit", "verify", database_url=own_database)
    assert broken.returncode == 1
    assert f"event_step row {step} (district 420502, link 3) was changed" in broken.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not an anchor\n")
    refused = run("audit", "verify", "--anchors", str(bad), database_url=own_database)
    assert refused.returncode == 1 and "line 1 of the anchors" in refused.stderr
