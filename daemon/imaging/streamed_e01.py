"""An E01 image whose segments are streamed elsewhere (an object store) as they are written.

:class:`StreamedE01Sink` is the E01 sink with one more duty: after every block it
tells each segment's upload how far the local segment file is written and which
offsets the writer may still patch (the ``sectors`` descriptor of the open table
group), so whole parts behind that are sent and their local space released at
once. Only :meth:`finish` completes the uploads (after the closing sections and the
volume patches), so no segment object exists before the image is whole; any
failure aborts every upload (and deletes a segment already completed), and the
local segment files are removed either way: nothing of the image stays on local
disk. The uploads come from the caller (``open_upload``), so imaging knows no store.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from custodyd.daemon.errors import DestinationError
from custodyd.daemon.imaging.ewf import layout
from custodyd.daemon.imaging.output import E01Sink, FinishInfo, ImageFormat, ImageMetadata
from custodyd.daemon.imaging.reader import SourceInfo


class SegmentUpload(Protocol):
    url: Any

    def advance(self, written: int, held: Sequence[int] = ()) -> None: ...

    def complete(self, size: int) -> str | None: ...

    def discard(self) -> None: ...


OpenUpload = Callable[[str, Path], SegmentUpload]  # (segment name, local file) -> upload


class StreamedE01Sink(E01Sink):
    def __init__(
        self,
        path: Path,
        fmt: ImageFormat,
        source: SourceInfo,
        meta: ImageMetadata,
        open_upload: OpenUpload,
    ) -> None:
        super().__init__(path, fmt, source, meta)
        self._open_upload = open_upload
        self._uploads: list[SegmentUpload] = []
        self._settled = 0  # segments closed and advanced to their end
        self._sizes: list[int] = []
        self.completed = False
        try:
            self._follow()
        except BaseException:
            self.abandon()
            raise

    def write(self, view: memoryview) -> None:
        super().write(view)
        self._follow()

    def sync(self) -> None:
        super().sync()
        self._follow()

    def rescue_fd(self) -> int:
        raise DestinationError(
            "unreadable sectors need rescue passes, which an E01 streamed to S3 cannot take "
            "yet; acquire this medium to a local store first"
        )

    def _segments(self) -> list[Any]:
        return list(self._writer._segments)

    def _follow(self) -> None:
        segments = self._segments()
        while len(self._uploads) < len(segments):
            seg = segments[len(self._uploads)]
            self._uploads.append(self._open_upload(seg.final.name, seg.part))
        last = len(segments) - 1
        for i in range(self._settled, len(segments)):
            seg, upload = segments[i], self._uploads[i]
            closed = i < last or self._writer.closed
            group = self._writer._group
            held = [] if closed or group is None else [group.start]
            upload.advance(os.stat(seg.part).st_size, held)
            if closed and i == self._settled:
                self._settled += 1

    def finish(self, done: FinishInfo, *, publish: bool = True) -> Path:
        """Close the E01 (closing sections, volume patches), then complete every
        segment's upload in order; the objects appear only now."""
        super().finish(done, publish=False)
        segments = self._segments()
        for seg, upload in zip(segments, self._uploads, strict=True):
            size = os.stat(seg.part).st_size
            upload.complete(size)
            self._sizes.append(size)
        self.completed = True
        self._remove_local(segments)
        return self.final_path

    def abandon(self) -> Path | None:
        """Abort every upload (delete a segment already completed), drop the local files."""
        for upload in self._uploads:
            upload.discard()
        with contextlib.suppress(Exception):
            super().abandon()
        self._remove_local(self._segments())
        return None

    def _remove_local(self, segments: list[Any]) -> None:
        for seg in segments:
            for path in (
                seg.part,
                seg.final,
                seg.final.with_name(seg.final.name + ".incomplete"),
            ):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def details(self) -> dict[str, Any]:
        writer = self._writer
        return {
            **self.fmt.to_dict(),
            "store": "s3",
            "segments": [str(u.url) for u in self._uploads],
            "chunk_size": layout.CHUNK_SIZE,
            "chunks": writer.chunks,
            "compressed_chunks": writer.compressed_chunks,
            "stored_bytes": sum(self._sizes),
        }
