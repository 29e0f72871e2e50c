"""The caller of a citizen's case (来电人): the one read of their clear phone and name.

Phones and names are stored encrypted and shown masked everywhere (event reads, lists, exports,
Open311). The command centre that took the call may read them in clear, with a reason, to call
back; every such read writes a row of the PII access log naming the event.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from events.exceptions import Forbidden, InvalidReport
from events.query import check_visible
from events.schemas import CallerContact
from events.service import CALLER_NAME_CONTEXT, CONTACT_CONTEXT, get_event
from people.access import Actor, log_pii_read
from people.models import StaffRole
from people.pii import get_cipher

# The command centre (and admins): who takes and answers calls.
UNMASK_CALLER = frozenset({StaffRole.COMMAND, StaffRole.ADMIN})


def unmask_caller(session: Session, *, actor: Actor, code: str, reason: str) -> CallerContact:
    """The clear phone and name of event `code`'s caller, for a stated reason (logged)."""
    if actor.role not in UNMASK_CALLER:
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account may not read a caller's phone; "
            "the command centre (command) of the event's district reads it to call back"
        )
    if len(reason.strip()) < 4:
        raise InvalidReport(
            "say why you need the caller's phone (at least a few words, e.g. 回访来电人); "
            "the reason is kept in the access log",
            field="reason",
        )
    event = get_event(session, code=code)
    check_visible(session, actor=actor, event=event)
    log_pii_read(
        session,
        actor=actor,
        event_id=event.id,
        district_code=event.district_code,
        fields="caller_name,caller_phone",
        reason=reason,
    )
    cipher = get_cipher()
    return CallerContact(
        code=event.code,
        caller_name=cipher.decrypt(event.caller_name_enc, context=CALLER_NAME_CONTEXT)
        if event.caller_name_enc
        else None,
        caller_phone=cipher.decrypt(event.contact_enc, context=CONTACT_CONTEXT)
        if event.contact_enc
        else None,
    )


__all__ = ["UNMASK_CALLER", "unmask_caller"]
