"""Photos attached to events: stored by content hash, recorded with the step they belong to."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from events.attachments import PhotoInfo, store_photo, thumbnail_path
from events.models import Attachment, Event, EventStep
from gis.config import get_settings
from gis.crs import STORAGE_SRID


def attach_photos(
    session: Session,
    *,
    event: Event,
    step: EventStep,
    photos: list[PhotoInfo],
    directory: Path | None = None,
) -> list[Attachment]:
    """Store each photo (EXIF already stripped) and link it to `event` and `step`."""
    root = directory or get_settings().upload_dir
    rows = []
    for photo in photos:
        path = store_photo(photo, directory=root)
        hint = photo.gps_hint
        rows.append(
            Attachment(
                event_id=event.id,
                district_code=event.district_code,
                step_id=step.id,
                sha256=photo.sha256,
                content_type=photo.content_type,
                size=photo.size,
                width=photo.width,
                height=photo.height,
                path=str(path),
                thumbnail_path=str(thumbnail_path(path)),
                taken_at=photo.taken_at if photo.taken_at and photo.taken_at.tzinfo else None,
                geom=f"SRID={STORAGE_SRID};POINT({hint[0]} {hint[1]})" if hint else None,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def relocate_photos(session: Session, *, old_root: Path, new_root: Path) -> int:
    """Point stored photo paths under `old_root` at `new_root` (after a restore elsewhere)."""
    from sqlalchemy import func, update

    old, new = str(old_root).rstrip("/") + "/", str(new_root).rstrip("/") + "/"
    moved = 0
    for column in (Attachment.path, Attachment.thumbnail_path):
        result = session.execute(
            update(Attachment)
            .where(func.starts_with(column, old))
            .values({column: new + func.substr(column, len(old) + 1)})
            .execution_options(synchronize_session=False)
        )
        moved = max(moved, result.rowcount or 0)  # type: ignore[attr-defined]
    return moved
