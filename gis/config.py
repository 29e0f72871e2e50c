"""Settings for every part of gridgov, read once from the environment (and `.env`)."""

from __future__ import annotations

import functools
import ipaddress
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Secrets shorter than this are refused in production and anywhere off loopback.
MIN_SECRET_LENGTH = 32
# A working-time limit as events.calendar.Limit reads it: 4h, 1.5h, 1d, 2工作日 (whole days) …
_LIMIT_PATTERN = (
    r"^\s*(\d+(\.\d+)?\s*(h|hours?|小时|工作小时|个工作小时)"
    r"|\d+\s*(d|days?|天|工作日|个工作日))\s*$"
)


class Settings(BaseSettings):
    """Validated settings; environment variables use the names in upper case."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    # When unset, the project-local cluster below is used.
    database_url: str | None = None
    pg_port: int = Field(default=54329, ge=1024, le=65535)
    pg_data_dir: Path = PROJECT_DIR / ".pgdata"
    pg_database: str = "gridgov"
    # A read replica for the dashboards (map pages, tiles, statistics, exports); unset, they
    # read from the primary. `gridgov serve` uses the local hot standby of `gridgov db replica
    # up` when it runs and this is unset. Reads fall back to the primary when the replica is
    # down or more than REPLICA_MAX_LAG_S behind; one lag check is reused for REPLICA_CHECK_S.
    database_replica_url: str | None = None
    replica_max_lag_s: float = Field(default=30.0, gt=0)
    replica_check_s: float = Field(default=2.0, ge=0)
    # The local hot standby (`gridgov db replica up`) of the project-local cluster.
    pg_replica_port: int = Field(default=54330, ge=1024, le=65535)
    pg_replica_data_dir: Path = PROJECT_DIR / ".pgdata-replica"
    # The local cluster is durable (fsync, synchronous commit, full-page writes) unless `fast`
    # is chosen explicitly, which only the test suite and `make bench` do: a crash may then
    # lose acknowledged writes. Applied at every `gridgov db up`.
    pg_durability: Literal["durable", "fast"] = "durable"
    # Requests' statements are cancelled after this many seconds (answered 503 with
    # Retry-After) so a slow database does not hold every worker; 0 turns it off.
    statement_timeout_s: float = Field(default=30.0, ge=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Points just outside every grid within this distance go to the nearest grid.
    locate_tolerance_m: float = Field(default=30.0, ge=0)
    # The nearest building within this distance is attached to a located point.
    building_search_m: float = Field(default=50.0, ge=0)
    # Overlap between grids up to this area is treated as digitising noise.
    overlap_tolerance_m2: float = Field(default=1.0, ge=0)
    # Areas and lengths are measured in the city's CGCS2000 3-degree Gauss-Krüger zone
    # (Yichang 4546, Shenzhen 4547, Beijing 4548).
    metric_srid: int = Field(default=4546, ge=4534, le=4554)
    # Event photos (EXIF stripped) are stored here by content hash.
    upload_dir: Path = PROJECT_DIR / "var" / "uploads"
    max_photo_mb: float = Field(default=10.0, gt=0)
    # Files uploaded for import (ledgers, grid and building layers) are refused above this.
    max_import_mb: float = Field(default=200.0, gt=0)
    # Error files of import jobs (rejected rows, clear ID numbers) are deleted this many days
    # after the job ends; uploads are deleted as soon as their job ends.
    import_error_file_days: float = Field(default=7.0, gt=0)
    # A queued or running import job whose runner has not signalled for this long is
    # treated as interrupted (its server was killed) and marked failed.
    import_lease_s: int = Field(default=120, ge=10)
    # Signs tokens and sessions; may be rotated.
    secret_key: str = "dev-only-secret-change-me-before-production"
    # Encrypts ID numbers and phones and keys their lookup hashes: changing it makes stored
    # personal data unreadable, so it is separate from SECRET_KEY (default: the same value).
    pii_key: str | None = None
    # Access tokens and page sessions last one working shift.
    token_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)
    # Failed logins (successes never count) allowed per window: for one username from one
    # address, and from one address over all usernames. See api/http/auth.py for the whole rule.
    login_failures_per_user: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=30, ge=1)
    login_window_s: int = Field(default=900, ge=10)
    # Webhook delivery (`gridgov worker`): the total time one delivery may take (connect, send,
    # the whole answer), and how many receivers are posted to at once.
    webhook_deadline_s: float = Field(default=10.0, gt=0, le=300)
    webhook_concurrency: int = Field(default=4, ge=1, le=64)
    # Monthly partitions of event, event_step and outbox (gis.partitions): months created
    # ahead of the current one, and whole outbox months kept before it.
    partition_months_ahead: int = Field(default=6, ge=0, le=120)
    outbox_retention_months: int = Field(default=6, ge=0, le=120)
    # Shared data's change feed (share_change): a numbered change is kept this many days, and
    # after that until every live webhook subscription of its dataset has delivered it.
    share_change_retention_days: int = Field(default=30, ge=1, le=3650)
    # Citizen-raised cases (12345 热线, 市长信箱, 网站·APP, Open311): a verified case waits this
    # long (working time on the work calendar: 4h, 1d …) for the operator's reply (答复), and
    # the callback (回访) after closing is due this long after the reply.
    reply_limit: str = Field(default="1d", pattern=_LIMIT_PATTERN)
    # Every other case, once the on-site check (核查) passed, waits this long (working time)
    # for the command centre to close it (结案).
    close_limit: str = Field(default="4h", pattern=_LIMIT_PATTERN)
    callback_limit: str = Field(default="2d", pattern=_LIMIT_PATTERN)
    # The command centre's own clocks (working time): a pending case waits this long for 立案
    # (register or refuse), a registered case not dispatched automatically this long for 派遣.
    register_limit: str = Field(default="2h", pattern=_LIMIT_PATTERN)
    dispatch_limit: str = Field(default="1h", pattern=_LIMIT_PATTERN)
    # Supervision orders (督办单, events.supervision): the working time a unit has to reply
    # (督办回复) by level, and how long a stage stays red after its deadline before the
    # escalation job lists the case (挂牌督办).
    supervision_reply_general: str = Field(default="2d", pattern=_LIMIT_PATTERN)
    supervision_reply_key: str = Field(default="1d", pattern=_LIMIT_PATTERN)
    supervision_reply_listed: str = Field(default="4h", pattern=_LIMIT_PATTERN)
    supervision_listed_after: str = Field(default="3d", pattern=_LIMIT_PATTERN)
    # Map basemap: none (outline map), osm, tianditu (needs TIANDITU_KEY), or xyz (BASEMAP_URL,
    # a self-hosted {z}/{x}/{y} template; BASEMAP_CRS gcj02 when its tiles are Gaode/Tencent).
    basemap: Literal["none", "osm", "tianditu", "xyz"] = "none"
    tianditu_key: str | None = None
    basemap_url: str | None = None
    basemap_crs: Literal["wgs84", "gcj02"] = "wgs84"
    # Rentals and floating residents (出租屋与流动人口, people.rentals / people.task_rules): 群租
    # is suspected above this many occupants per room let, or below this much floor area per
    # occupant; fire-safety events (category code prefixes) and any events at the building in
    # the last lookback days raise the risk grade; 居住登记 is due this many days after arrival;
    # a residence permit (居住证) is listed this many days before it expires; a raised task is
    # due this many days after it is raised.
    rental_max_occupants_per_room: int = Field(default=2, ge=1)
    rental_min_m2_per_occupant: float = Field(default=5.0, gt=0)
    rental_fire_categories: tuple[str, ...] = ("02", "1101", "1102")
    rental_event_lookback_days: int = Field(default=90, ge=1)
    rental_recent_events_medium: int = Field(default=3, ge=1)
    registration_deadline_days: int = Field(default=30, ge=1)
    permit_warning_days: int = Field(default=30, ge=0)
    task_due_days: int = Field(default=7, ge=0)
    # Patrol tracks (巡查轨迹, people.patrols): a building counts as passed when a track comes
    # within patrol_pass_m of it; no point for more than patrol_gap_minutes is a gap (phone
    # off), staying within patrol_stop_radius_m for more than patrol_stop_minutes a stop.
    # Privacy (`gridgov patrols prune`): tracks of patrols ended more than
    # patrol_thin_after_days ago keep every patrol_thin_keep_every-th point, and lose all
    # their points after patrol_delete_after_days (the patrol's times stay).
    patrol_pass_m: float = Field(default=30.0, gt=0, le=500)
    patrol_gap_minutes: float = Field(default=10.0, gt=0)
    patrol_stop_minutes: float = Field(default=10.0, gt=0)
    patrol_stop_radius_m: float = Field(default=30.0, gt=0)
    patrol_thin_after_days: int = Field(default=30, ge=1)
    patrol_thin_keep_every: int = Field(default=5, ge=2)
    patrol_delete_after_days: int = Field(default=180, ge=1)
    # Recurrence (重复发生, events.recurrence): at least this many events of one category within
    # this many metres of each other in this many days form a cluster (per-category overrides in
    # the recurrence_rule table); its 源头治理 task is due this working time after detection, and
    # the closing report must be at least this many characters.
    recurrence_min_events: int = Field(default=3, ge=2, le=1000)
    recurrence_radius_m: float = Field(default=100.0, gt=0, le=5000)
    recurrence_window_days: int = Field(default=30, ge=1, le=366)
    recurrence_task_limit: str = Field(default="10d", pattern=_LIMIT_PATTERN)
    recurrence_report_min_chars: int = Field(default=15, ge=1, le=1000)

    @model_validator(mode="after")
    def _basemap_is_complete(self) -> Settings:
        if self.basemap == "tianditu" and not self.tianditu_key:
            raise ValueError("BASEMAP=tianditu needs TIANDITU_KEY (a Tianditu console key)")
        if self.basemap == "xyz" and not (self.basemap_url and "{z}" in self.basemap_url):
            raise ValueError("BASEMAP=xyz needs BASEMAP_URL, a tile template with {z}/{x}/{y}")
        return self

    @model_validator(mode="after")
    def _replica_is_postgresql(self) -> Settings:
        url = self.database_replica_url
        if url and not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg2://")):
            raise ValueError(
                "DATABASE_REPLICA_URL must be a PostgreSQL URL "
                "(postgresql://user:pass@replica-host:5432/gridgov)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Settings:
        if self.environment == "production" and (weak := self.weak_secrets()):
            raise ValueError(f"{weak[0]} in production")
        return self

    def weak_secrets(self) -> list[str]:
        """A sentence for each secret still at its development default or too short to trust."""
        weak = []
        for name, value in (("SECRET_KEY", self.secret_key), ("PII_KEY", self.pii_secret)):
            if value.startswith("dev-only"):
                weak.append(
                    f"{name} still has its development default; set a random secret "
                    f"(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            elif len(value) < MIN_SECRET_LENGTH:
                weak.append(
                    f"{name} is shorter than {MIN_SECRET_LENGTH} characters; use a random "
                    f"secret of at least {MIN_SECRET_LENGTH} characters"
                )
        return weak

    def serving_refusal(self, host: str) -> str | None:
        """Why serving on `host` must be refused (weak secrets off loopback), else None.

        Anyone who knows the public development secret can sign tokens that pass as any
        account, so such a server may only be reachable from this machine.
        """
        weak = self.weak_secrets()
        if not weak or is_loopback(host):
            return None
        return (
            f"开发密钥只能在本机地址上使用 Refusing to serve on {host}, which other machines "
            f"can reach: {weak[0]}. Development secrets work only on a loopback address "
            "(127.0.0.1, ::1, localhost)"
        )

    @property
    def pii_secret(self) -> str:
        """The key material for personal data: PII_KEY, else SECRET_KEY."""
        return self.pii_key or self.secret_key

    @property
    def local_database_url(self) -> str:
        """URL of the project-local cluster (TCP on loopback, trust auth)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.pg_port}/{self.pg_database}"

    @property
    def local_replica_url(self) -> str:
        """URL of the project-local hot standby (`gridgov db replica up`)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.pg_replica_port}/{self.pg_database}"

    @property
    def uses_local_cluster(self) -> bool:
        """True unless DATABASE_URL points at a database managed elsewhere."""
        return not self.database_url

    @property
    def sqlalchemy_url(self) -> str:
        """The URL SQLAlchemy connects to, with the psycopg2 driver made explicit."""
        return with_psycopg2(self.database_url or self.local_database_url)

    @property
    def replica_sqlalchemy_url(self) -> str | None:
        """The read replica's URL for SQLAlchemy, None when no replica is configured."""
        return with_psycopg2(self.database_replica_url) if self.database_replica_url else None


def with_psycopg2(url: str) -> str:
    """`url` with the psycopg2 driver made explicit."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name) only reaches this machine."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    addresses = [str(a).split("%")[0] for a in resolved]
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


@functools.lru_cache
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return Settings()
