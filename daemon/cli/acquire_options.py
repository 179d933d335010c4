"""The options ``custodyd image`` and ``custodyd media acquire`` share: declared once, so
both commands take the same names, types and help (and stay light for the lazy CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from custodyd.daemon.config import Settings

Store = Annotated[
    str | None,
    typer.Option(
        "--store", help="Evidence store: a directory, or s3://bucket/prefix (Object Lock)."
    ),
]
Hashes = Annotated[
    str | None, typer.Option("--hash", help="Extra digests besides BLAKE3: sha256,md5,sha1.")
]
Examiner = Annotated[str | None, typer.Option("--examiner")]
Notes = Annotated[str | None, typer.Option("--notes")]
NoVerify = Annotated[bool, typer.Option("--no-verify", help="Skip the re-read verify pass.")]
Format = Annotated[
    str | None, typer.Option("--format", help="raw (default) or e01 (EnCase 6 Expert Witness).")
]
Compression = Annotated[
    str | None,
    typer.Option("--compression", help="E01 chunk compression: none, fast (default) or best."),
]
SegmentSize = Annotated[
    str | None,
    typer.Option("--segment-size", help="E01 segment size, e.g. 650M, 2G (default 1500M)."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")]


@dataclass(frozen=True)
class Chosen:
    """What the shared options asked for, as the acquisition functions take it."""

    store: str | None
    hashes: str | None
    examiner: str | None
    notes: str | None
    no_verify: bool
    image_format: str | None
    compression: str | None
    segment_size: str | None

    def output(self, settings: Settings) -> Any:
        """The image format (raw or E01) with the appliance's defaults; refuses bad values
        before anything is acquired."""
        from custodyd.daemon.acquisition import default_output
        from custodyd.daemon.imaging.output import ImageFormat

        return ImageFormat.of(
            self.image_format,
            self.compression,
            self.segment_size,
            defaults=default_output(settings),
        )

    def keywords(self) -> dict[str, Any]:
        """``acquire``'s keywords for these options."""
        return {
            "hashes": self.hashes.split(",") if self.hashes else (),
            "examiner": self.examiner,
            "notes": self.notes,
            "verify": not self.no_verify,
            "store": self.store,
        }
