"""The custody ledger: append-only, RFC 9162 Merkle tree, signed checkpoints.

``ctx.ledger`` is a :class:`Ledger`; see :mod:`custodyd.daemon.ledger.service`.
Pure parts usable without a database: :mod:`.merkle` (hashes, proofs),
:mod:`.note` (C2SP signed notes and checkpoints), :mod:`.offline` (bundle verifier).
"""

from custodyd.daemon.ledger.entry import LedgerEntry
from custodyd.daemon.ledger.service import Event, Ledger
from custodyd.daemon.ledger.verify import VerifyReport

__all__ = ["Event", "Ledger", "LedgerEntry", "VerifyReport"]
