"""The one exception hierarchy of custodyd.

Every error a user can meet is a :class:`CustodydError`. Each class carries a
stable problem ``slug`` (RFC 9457 ``type`` is ``urn:custodyd:problem:<slug>``),
the HTTP status the API answers with, and the exit code the CLI ends with. The
API and the CLI map these *once* (``custodyd.api.problems`` and
``custodyd.daemon.cli.app``); domain code only raises.

Exit codes: 0 ok, 1 unexpected, 2 usage/invalid input, 3 not found,
4 conflict/refused, 5 auth, 10 source, 11 destination, 12 device,
20 integrity (ledger/fixity), 78 configuration, 130 cancelled.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CustodydError(Exception):
    """Base of every custodyd error. ``detail`` is the human sentence shown to users."""

    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra

    @property
    def type_uri(self) -> str:
        return f"urn:custodyd:problem:{self.slug}"

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """RFC 9457 problem object (extension members come from ``extra``)."""
        problem: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.http_status,
            "detail": self.detail,
        }
        if instance:
            problem["instance"] = instance
        for key, value in self.extra.items():
            problem.setdefault(key, value)
        return problem


class InvalidInput(CustodydError):
    slug, title, http_status, exit_code = "invalid-input", "Invalid input", 422, 2


class ConfigError(CustodydError):
    slug, title, http_status, exit_code = "configuration", "Configuration error", 500, 78


class NotFound(CustodydError):
    slug, title, http_status, exit_code = "not-found", "Not found", 404, 3


class Conflict(CustodydError):
    slug, title, http_status, exit_code = "conflict", "Conflict", 409, 4


class AlreadyExists(Conflict):
    slug, title = "already-exists", "Already exists"


class DispositionRefused(Conflict):
    """Destroy/return refused because an order is active or a hold stands."""

    slug, title = "disposition-refused", "Disposition refused while an order or hold stands"


class ReleaseRefused(Conflict):
    """Release to a third party without recorded prior written consent."""

    slug, title = "release-refused", "Release refused without consent"


class Unauthenticated(CustodydError):
    slug, title, http_status, exit_code = "unauthenticated", "Authentication required", 401, 5


class Forbidden(CustodydError):
    slug, title, http_status, exit_code = "forbidden", "Not allowed for this role", 403, 5


class SourceError(CustodydError):
    """The evidence source is missing, unreadable, or not safe to read."""

    slug, title, http_status, exit_code = "source", "Source unusable", 422, 10


class SourceBusy(SourceError):
    slug, title = "source-busy", "Source is open for writing elsewhere"


class DestinationError(CustodydError):
    """The image destination is unusable: full, on the source, not writable."""

    slug, title, http_status, exit_code = "destination", "Destination unusable", 422, 11


class DestinationFull(DestinationError):
    slug, title, http_status = "destination-full", "Destination is full", 507


class DestinationOnSource(DestinationError):
    slug, title = "destination-on-source", "Destination is on the source medium"


class DeviceError(CustodydError):
    slug, title, http_status, exit_code = "device", "Device error", 422, 12


class WriteBlockError(DeviceError):
    slug, title = "write-block", "Medium could not be made read-only"


class Cancelled(CustodydError):
    slug, title, http_status, exit_code = "cancelled", "Cancelled", 409, 130


class IntegrityFailure(CustodydError):
    """Something that must be unchanged has changed (ledger, image fixity)."""

    slug, title, http_status, exit_code = "integrity", "Integrity check failed", 409, 20


class LedgerIntegrityError(IntegrityFailure):
    slug, title = "ledger-integrity", "Ledger verification failed"


class LedgerInconsistent(LedgerIntegrityError):
    """The ledger in the database is not an extension of what was witnessed outside it.

    Restored from an older backup, rows deleted, a witness missing or edited, or a
    checkpoint that the trust list does not vouch for: every append is refused
    (and keeps being refused) until an administrator deals with it; see
    ``custodyd ledger rewitness``. 503: the service cannot record custody now.
    """

    slug, title, http_status = "ledger-inconsistent", "Ledger inconsistent with its witnesses", 503


class LedgerPendingRejected(LedgerIntegrityError):
    """A ``ledger_pending`` row is not authentic (bad or missing MAC) or not well formed.

    Never signed; appends are refused while it stands (``custodyd ledger
    discard-pending`` records and removes it).
    """

    slug, title, http_status = "ledger-pending-rejected", "Forged or malformed pending entry", 503


class LedgerKeyMissing(LedgerIntegrityError):
    """No signing key while the ledger has entries: never created implicitly then."""

    slug, title, http_status = "ledger-key-missing", "Ledger signing key missing", 503


class LedgerKeyUntrusted(LedgerIntegrityError):
    """This appliance's key is not (or no longer) in the ledger's trust list."""

    slug, title, http_status = "ledger-key-untrusted", "Ledger signing key not enrolled", 503


class FixityMismatch(IntegrityFailure):
    slug, title = "fixity-mismatch", "Evidence image does not match its recorded hash"


class ServiceUnavailable(CustodydError):
    slug, title, http_status, exit_code = "unavailable", "Service unavailable", 503, 1


class AcquisitionInProgress(Conflict):
    """A second acquisition of a medium that is already queued or being acquired."""

    slug, title = "acquisition-in-progress", "This medium is already being acquired"


class ReportError(CustodydError):
    """A report could not be rendered (a template or typesetting failure: a bug, not input)."""

    slug, title, http_status, exit_code = "report", "The report could not be rendered", 500, 1
