"""FastAPI dependencies: one database transaction per request, on the primary or the replica."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from gis.db import get_request_engine, session_scope
from gis.replica import read_session_scope


def get_session() -> Iterator[Session]:
    """A session that commits when the request succeeds and rolls back when it fails.

    Its statements time out after STATEMENT_TIMEOUT_S (answered 503), so a slow database
    does not hold the server's workers.
    """
    with session_scope(get_request_engine()) as session:
        yield session


def get_read_session() -> Iterator[Session]:
    """A read-only session for dashboards: the replica when it is healthy, else the primary.

    Only for reads that may be up to REPLICA_MAX_LAG_S old (maps, tiles, statistics, exports);
    what the caller has just written is read through SessionDep. See gis.replica.
    """
    with read_session_scope() as session:
        yield session


# scope="function": commit before the response is sent, so a client that got 201 can read it
# back at once (FastAPI's default for yield dependencies commits after sending).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
