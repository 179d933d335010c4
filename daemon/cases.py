"""Case service: create, read, list, close. Cases are addressed by their ``ref``
(the ``--case`` value of the CLI, ``ref`` in the API)."""

from __future__ import annotations

from sqlmodel import Session, select

from custodyd.daemon.clock import Clock
from custodyd.daemon.errors import AlreadyExists, Conflict, NotFound
from custodyd.daemon.models import Case
from custodyd.daemon.names import check_name, clip, echo


def check_ref(ref: str) -> str:
    """``ref`` if it is an acceptable case ref (:func:`custodyd.daemon.names.check_name`)."""
    return check_name(ref, "case ref")


def find_case(session: Session, ref: str) -> Case | None:
    return session.exec(select(Case).where(Case.ref == ref)).first()


def get_case(session: Session, ref: str) -> Case:
    case = find_case(session, ref)
    if case is None:
        raise NotFound(f"no case {echo(ref)}", case=clip(ref))
    return case


def create_case_unrecorded(session: Session, clock: Clock, ref: str, title: str = "") -> Case:
    ref = check_ref(ref)
    if find_case(session, ref) is not None:
        raise AlreadyExists(f"case {echo(ref)} already exists", case=clip(ref))
    case = Case(ref=ref, title=title, status="open", created_at=clock.now())
    session.add(case)
    session.flush()
    return case


def get_or_create_case(session: Session, clock: Clock, ref: str) -> tuple[Case, bool]:
    """The case ``ref``, created when missing (an examiner's ``--case`` on the workstation).

    Returns (case, created). A closed case is refused: nothing new enters it.
    """
    case = find_case(session, ref)
    if case is None:
        return create_case_unrecorded(session, clock, ref), True
    if case.status == "closed":
        raise Conflict(
            f"case {echo(ref)} is closed; nothing new can be added to it", case=clip(ref)
        )
    return case, False


def close_case_unrecorded(session: Session, clock: Clock, ref: str) -> Case:
    case = get_case(session, ref)
    if case.status != "closed":
        case.status = "closed"
        case.closed_at = clock.now()
        session.add(case)
        session.flush()
    return case


def list_cases(session: Session, *, offset: int = 0, limit: int = 100) -> list[Case]:
    return list(session.exec(select(Case).order_by(Case.id).offset(offset).limit(limit)))
