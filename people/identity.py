"""One ledger per person nationwide: which district holds each document (`person_identity`).

The resident tables are distributed by district, so their unique key on the document only
holds inside one district. Every write that creates a resident record, or moves a person to
another district's ledger, claims the document here in the same transaction; a document held
by another record is refused, whichever district holds it.
"""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from people.documents import DocumentType
from people.models import PersonIdentity


def holder(session: Session, doc_type: DocumentType, doc_hash: bytes) -> tuple[str, int] | None:
    """(district, resident id) of the record holding a document, or None."""
    row = session.execute(
        select(PersonIdentity.district_code, PersonIdentity.resident_id).where(
            PersonIdentity.doc_type == doc_type, PersonIdentity.doc_hash == doc_hash
        )
    ).first()
    return (row[0], row[1]) if row else None


def claim(
    session: Session, *, doc_type: DocumentType, doc_hash: bytes, district: str, resident_id: int
) -> bool:
    """Record that `resident_id` in `district` holds the document; False if another holds it."""
    inserted = session.execute(
        insert(PersonIdentity)
        .values(
            doc_type=doc_type, doc_hash=doc_hash, district_code=district, resident_id=resident_id
        )
        .on_conflict_do_nothing()
    ).rowcount  # type: ignore[attr-defined]  # a CursorResult
    return bool(inserted)


def move(
    session: Session, *, doc_type: DocumentType, doc_hash: bytes, district: str, resident_id: int
) -> None:
    """Hand the document to a person's new record in another district (迁入)."""
    session.execute(
        update(PersonIdentity)
        .where(PersonIdentity.doc_type == doc_type, PersonIdentity.doc_hash == doc_hash)
        .values(district_code=district, resident_id=resident_id)
    )


def claim_imported(session: Session, batch: str) -> int:
    """Claim the documents of the residents a bulk write just inserted (`batch`: a table or
    subquery of `resident` rows with doc_type, doc_hash, district_code and id).

    Returns how many were held by another record already; the caller rolls back if any were.
    """
    inserted = session.execute(
        text(
            f"""
            INSERT INTO person_identity (doc_type, doc_hash, district_code, resident_id)
            SELECT doc_type, doc_hash, district_code, id FROM {batch}
            ON CONFLICT DO NOTHING
            """
        )
    ).rowcount  # type: ignore[attr-defined]  # a CursorResult
    total = session.execute(text(f"SELECT count(*) FROM {batch}")).scalar_one()
    return int(total) - int(inserted)
