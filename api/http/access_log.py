"""Keep secrets out of the server's logs: the access log shows every request's query string.

Open311 clients may send `api_key` in the query string (GeoReport v2 allows it), and a careless
client may do the same with a token or a password. The access log line keeps the parameter's
name and hides its value, so logs can be shipped and kept without leaking credentials.
"""

from __future__ import annotations

import copy
import logging
from typing import Any
from urllib.parse import unquote_plus

# Query parameters whose values never reach a log (compared lower-case, after URL decoding).
SECRET_PARAMETERS = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "password", "secret"}
)
REDACTED = "***"
ACCESS_LOGGER = "uvicorn.access"


def redact_query(text: str) -> str:
    """`text` (a path with a query string) with the values of secret parameters replaced."""
    path, mark, rest = text.partition("?")
    if not mark:
        return text
    query, hash_mark, fragment = rest.partition("#")
    pairs = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        secret = unquote_plus(name).strip().lower() in SECRET_PARAMETERS
        pairs.append(f"{name}={REDACTED}" if secret and equals else pair)
    return f"{path}?{'&'.join(pairs)}{hash_mark}{fragment}"


class RedactSecrets(logging.Filter):
    """A logging filter that hides secret query values in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(arg) if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact_query(record.msg)
        return True


def install() -> None:
    """Put the filter on uvicorn's access logger (once), however the server was started."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging set-up with the filter on the access log's handler.

    `gridgov serve` passes this to uvicorn, so each worker process redacts from its first line.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": f"{__name__}.RedactSecrets"}
    config["handlers"]["access"]["filters"] = ["redact_secrets"]
    config["loggers"][ACCESS_LOGGER]["filters"] = ["redact_secrets"]
    return config
