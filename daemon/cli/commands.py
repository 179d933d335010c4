"""The static table of ``custodyd`` commands: name -> (module, short help).

``custodyd --help`` is printed from this table alone and ``custodyd NAME`` imports
only ``custodyd.daemon.cli.<module>``, so start-up does not pay for SQLAlchemy,
cryptography, FastAPI... of commands that are not run. Adding a top-level command
(or sub-command group) means adding its row here; ``tests/daemon/cli/test_lazy.py``
compares this table with the fully imported app and names the missing row.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    """Where a top-level command is defined and the line ``custodyd --help`` shows for it."""

    module: str
    """Module under ``custodyd.daemon.cli`` whose import registers the command on ``app``."""
    help: str
    """Short help: the first line of the command's docstring or of its ``Typer(help=...)``."""


COMMANDS: dict[str, Entry] = {
    "alerts": Entry("alerts", "Expiry and deadline alerts."),
    "bench": Entry("bench", "Benchmarks."),
    "cases": Entry("cases", "Cases."),
    "custody": Entry("custody", "Custody of evidence items."),
    "dispose": Entry(
        "dispose", "Return or destroy an item: refused while any order or hold covers it."
    ),
    "evidence": Entry("evidence", "Evidence items and their manifests."),
    "extract": Entry(
        "extract", "Extract one file of a sealed image into a new sealed, derived evidence item."
    ),
    "fixity": Entry("fixity", "Scheduled fixity re-verification."),
    "history": Entry("history", "Show the custody timeline of EVIDENCE_ID (oldest first)."),
    "image": Entry(
        "image", "Image SOURCE with BLAKE3 (+ requested digests), verify, inventory and seal it."
    ),
    "install-udev-rules": Entry(
        "udev", "Install the rules that force new external block devices read-only."
    ),
    "inventory": Entry(
        "inventory",
        "List the volume system, allocated partitions and filesystems with entry counts.",
    ),
    "ledger": Entry("ledger", "The custody ledger."),
    "media": Entry("media", "Attached media (block devices) and their protection."),
    "orders": Entry("orders", "Preservation orders."),
    "regimes": Entry("regimes", "Legal bases (regimes) of preservation orders."),
    "report": Entry(
        "report", "Write the acquisition and custody report (PDF/A) of an item or a case."
    ),
    "retention": Entry("retention", "Retention of evidence items."),
    "serve": Entry("serve", "Run the daemon until SIGTERM/SIGINT."),
    "tokens": Entry("tokens", "API tokens."),
    "transfers": Entry("transfers", "Transfers of personal data."),
    "users": Entry("users", "Users and their roles."),
    "verify": Entry(
        "verify",
        "Re-read the sealed image, compare BLAKE3 and piecewise digests, record the result.",
    ),
    "version": Entry("version", "Print the custodyd version."),
}
