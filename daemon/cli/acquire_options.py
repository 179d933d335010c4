"""The options ``custodyd image`` and ``custodyd media acquire`` share: declared once, so
both commands take the same names, types and help (and stay light for the lazy CLI)."""

from __future__ import annotations

from typing import Annotated

import typer

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
