"""Settings are validated once; production refuses development secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gis.config import Settings


def test_production_refuses_the_default_secret():
    with pytest.raises(ValidationError, match="SECRET_KEY still has its development default"):
        Settings(environment="production")


def test_database_url_in_libpq_form_is_given_the_psycopg2_driver():
    settings = Settings(database_url="postgresql://u:p@db.example:5432/city")
    assert settings.sqlalchemy_url == "postgresql+psycopg2://u:p@db.example:5432/city"
    assert not settings.uses_local_cluster


def test_local_cluster_url_uses_the_configured_port():
    settings = Settings(database_url=None, pg_port=55432)
    assert settings.sqlalchemy_url.endswith("@127.0.0.1:55432/gridgov")
    assert settings.uses_local_cluster


def test_replica_url_is_optional_and_given_the_psycopg2_driver():
    assert Settings(database_replica_url=None).replica_sqlalchemy_url is None
    settings = Settings(database_replica_url="postgres://u:p@replica.example:5432/city")
    assert settings.replica_sqlalchemy_url == "postgresql+psycopg2://u:p@replica.example:5432/city"


def test_a_replica_url_that_is_not_postgresql_is_refused_with_an_example():
    with pytest.raises(ValidationError, match="DATABASE_REPLICA_URL must be a PostgreSQL URL"):
        Settings(database_replica_url="mysql://u:p@replica.example/city")


@pytest.mark.parametrize("limit", ["4h", "1.5h", "1d", "2 工作日", "3个工作日"])
def test_reply_and_callback_limits_read_as_working_time(limit):
    assert Settings(reply_limit=limit, callback_limit=limit).reply_limit == limit


@pytest.mark.parametrize("limit", ["1.5d", "tomorrow", "", "2w"])
def test_a_reply_limit_that_is_no_working_time_is_refused(limit):
    with pytest.raises(ValidationError, match="reply_limit"):
        Settings(reply_limit=limit)
