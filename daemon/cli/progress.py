"""A rich progress bar on stderr for long reads (acquire, verify), only on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from custodyd.daemon.imaging.progress import Progress as EngineProgress
from custodyd.daemon.imaging.progress import ProgressCallback

if TYPE_CHECKING:
    from rich.progress import TaskID


@contextmanager
def progress_bar(enabled: bool | None = None) -> Iterator[ProgressCallback | None]:
    """Yields a callback for the engine, or None when stderr is not a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield None
        return
    # rich's progress machinery is imported only when a bar is shown (start-up time).
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def update(p: EngineProgress) -> None:
        task = tasks.get(p.phase)
        if task is None:
            task = tasks[p.phase] = bar.add_task(p.phase, total=p.bytes_total)
        bar.update(task, completed=p.bytes_done)

    with bar:
        yield update
