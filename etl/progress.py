"""Progress bars for long loads: shown on a terminal, silent in scripts, tests and --json."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import (
    Progress as RichProgress,
)


class Progress:
    """Counts bytes read; draws a bar on stderr when enabled."""

    def __init__(self, description: str, total: int | None, *, enabled: bool):
        self.description, self.total = description, total
        self._bar = None
        self._task = None
        if enabled:
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        return self

    def advance(self, nbytes: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, nbytes)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
