"""The evidence store: one directory per item, ``<store>/<case>/<evidence_id>/``.

It holds ``image.raw`` (``.part`` while written, ``.incomplete`` when abandoned),
``manifest.json``, ``acquisition.log`` and ``inventory.json``. Sealing makes the
files 0444 and the directory 0555 so nothing (short of root on purpose) changes
the evidence afterwards; the verify pass proves it did not.
"""

from custodyd.daemon.store.layout import (
    IMAGE_NAME,
    AcquisitionLog,
    evidence_directory,
    new_evidence_id,
    seal,
    unseal_for_disposal,
    write_json,
)

__all__ = [
    "IMAGE_NAME",
    "AcquisitionLog",
    "evidence_directory",
    "new_evidence_id",
    "seal",
    "unseal_for_disposal",
    "write_json",
]
