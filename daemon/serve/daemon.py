"""The main loop of ``custodyd serve``: one process, several threads.

Threads: the udev monitor (``monitor``), the acquisition workers
(``acquire-N``), APScheduler's worker, the HTTP API (uvicorn, ``api``) and the
systemd watchdog pinger. The main thread only waits for SIGTERM/SIGINT.

Start order: migrate, mark acquisitions a crash left ``running`` as
``incomplete`` (``recover_incomplete``), start workers and scheduler, register
media already present, start the monitor, start the API, then ``READY=1``.

Shutdown (SIGTERM/SIGINT): stop accepting events, cancel running
acquisitions (the acquisition service marks them ``incomplete``; the ledger
records it), stop the API and the scheduler, ``STOPPING=1``, exit 0.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from custodyd.daemon.acquisition import recover_incomplete
from custodyd.daemon.auth import ensure_admin_token
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.errors import ConfigError
from custodyd.daemon.serve import sdnotify
from custodyd.daemon.serve.runtime import MonitorStatus, Runtime
from custodyd.daemon.serve.scheduler import start_scheduler
from custodyd.daemon.service.media import MediaRegistry
from custodyd.daemon.service.queue import AcquisitionQueue

log = logging.getLogger("custodyd.daemon")


@dataclass
class ServeOptions:
    use_udev: bool = True
    api: bool = True


def recover(ctx: AppContext) -> Any:
    """``recover_incomplete`` from the acquisition service (crash leftovers -> incomplete)."""
    result = recover_incomplete(ctx)
    log.info("recovered interrupted acquisitions", extra={"event": "recover", "result": result})
    return result


class Daemon:
    def __init__(self, settings: Settings, options: ServeOptions | None = None) -> None:
        self.settings = settings
        self.options = options or ServeOptions()
        self.stop = threading.Event()
        self.ctx: AppContext | None = None
        self.runtime: Runtime | None = None
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self.admin_token_file: Path | None = None

    # -- start ------------------------------------------------------------
    def start(self, announce: Callable[[str], None] = print) -> Runtime:
        if self.settings.store_url:  # an S3 store without Object Lock is refused at start
            from custodyd.daemon.store.s3 import S3Store

            S3Store(self.settings.store_url).check()
        ctx = self.ctx = open_context(self.settings)
        recover(ctx)
        media = MediaRegistry(ctx, auto_acquire=self.settings.auto_acquire)
        acquisitions = AcquisitionQueue(
            ctx,
            media,
            workers=self.settings.workers,
            max_bps=self.settings.acquire_max_bps,
        )
        runtime = self.runtime = Runtime(
            ctx=ctx,
            media=media,
            acquisitions=acquisitions,
            monitor=MonitorStatus(),
            started_at=ctx.clock.now(),
            stopping=self.stop,
        )
        acquisitions.start()
        runtime.scheduler = start_scheduler(ctx)
        if self.options.use_udev:
            self._start_monitor(runtime)
        else:
            log.info("device monitor disabled (--no-udev)")
        if self.options.api:
            self._start_api(runtime, announce)
        self._start_watchdog()
        # What start-up built (modules, the app, its routes and schemas) lives as long as
        # the process: out of the cyclic collector's way. Its full collections walked all
        # of it, 5-8 % of the serve process's CPU under API load.
        gc.freeze()
        sdnotify.notify("READY=1\nSTATUS=custodyd is running")
        log.info(
            "custodyd ready",
            extra={
                "event": "ready",
                "home": str(self.settings.home),
                "api": runtime.api_url,
                "auto_acquire": self.settings.auto_acquire,
                "monitor": runtime.monitor.source,
            },
        )
        return runtime

    def _start_monitor(self, runtime: Runtime) -> None:
        from custodyd.hardware.monitor import MediaMonitor

        ready = threading.Event()

        def run() -> None:
            status = runtime.monitor
            try:
                monitor = MediaMonitor()
                status.source = monitor.source
                present = monitor.start()
                status.running = True
                ready.set()
                for device in present:
                    if device.is_disk and not self.stop.is_set():
                        self._guard(partial(runtime.media.attached, device, at_startup=True))
                for event in monitor.events(self.stop):
                    status.events += 1
                    status.last_event_at = runtime.ctx.clock.now()
                    self._guard(partial(runtime.media.handle, event))
            except Exception as exc:
                status.error = f"monitor failed: {exc!r}"
                log.exception("device monitor failed")
            finally:
                status.running = False
                ready.set()

        runtime.monitor.source = "starting"
        thread = threading.Thread(target=run, name="monitor", daemon=True)
        thread.start()
        self._threads.append(thread)
        ready.wait(30)

    def _guard(self, action: Callable[[], Any]) -> None:
        """One medium's trouble must not stop the monitor: log it and go on."""
        try:
            action()
        except Exception:
            log.exception("error while handling a device event")

    def _start_api(self, runtime: Runtime, announce: Callable[[str], None]) -> None:
        import uvicorn

        from custodyd.api.app import create_app
        from custodyd.daemon.serve.http_limits import (
            GuardedH11Protocol,
            HttpLimits,
            backlog_for,
            effective_cap,
            raise_fd_limit,
        )

        host, port = self.settings.host, self.settings.port
        fd_limit = raise_fd_limit()
        cap = effective_cap(self.settings.api_max_connections, fd_limit)
        if cap < self.settings.api_max_connections:
            log.warning("api_max_connections lowered to %d by the open-files limit", cap)
        config = uvicorn.Config(
            create_app(runtime.ctx, runtime=runtime),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            http=GuardedH11Protocol,
            timeout_keep_alive=max(1, int(self.settings.api_keep_alive_timeout)),
            backlog=backlog_for(fd_limit),
        )
        config.custodyd_limits = HttpLimits(  # type: ignore[attr-defined]
            header_timeout=self.settings.api_header_timeout,
            body_timeout=self.settings.api_body_timeout,
            max_connections=cap,
        )
        server = self._server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="api", daemon=True)
        thread.start()
        self._threads.append(thread)
        for _ in range(300):  # up to 30 s for the socket to be bound
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.1)
        if not server.started:
            raise ConfigError(
                f"the API server could not listen on {host}:{port} (address in use or not "
                "permitted); choose another with --port/--host or settings port/host",
                host=host,
                port=port,
            )
        shown = f"[{host}]" if ":" in host else host
        runtime.api_url = f"http://{shown}:{port}"
        announce(f"custodyd: API listening on {runtime.api_url}")
        token = self._admin_token(runtime.ctx)
        if token is not None:
            announce(f"custodyd: admin token in {token}")
        else:
            announce("custodyd: admin token already handed out (custodyd tokens create for more)")

    def _admin_token(self, ctx: AppContext) -> Path | None:
        path: Path | None = ensure_admin_token(ctx)
        self.admin_token_file = path
        return path

    def _start_watchdog(self) -> None:
        interval = sdnotify.watchdog_interval()
        if interval is None:
            return

        def ping() -> None:
            while not self.stop.wait(interval):
                rt = self.runtime
                healthy = rt is not None and rt.acquisitions.alive()
                if healthy:
                    sdnotify.notify("WATCHDOG=1")

        thread = threading.Thread(target=ping, name="watchdog", daemon=True)
        thread.start()

    # -- run / stop -------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("signal received", extra={"event": "signal", "signal": signum})
            self.stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def wait(self) -> None:
        while not self.stop.wait(1.0):
            server = self._server
            if server is not None and not any(
                t.name == "api" and t.is_alive() for t in self._threads
            ):
                log.error("the API server stopped unexpectedly; shutting down")
                self.stop.set()

    def shutdown(self, timeout: float = 60.0) -> None:
        self.stop.set()
        sdnotify.notify("STOPPING=1")
        runtime = self.runtime
        if runtime is not None:
            cancelled = runtime.acquisitions.shutdown(timeout)
            if cancelled:
                log.warning(
                    "running acquisitions cancelled at shutdown",
                    extra={"event": "shutdown.cancelled", "jobs": [j.id for j in cancelled]},
                )
            if runtime.scheduler is not None:
                runtime.scheduler.shutdown(wait=False)
            runtime.media.release_all()
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(10)
        if self.ctx is not None:
            self.ctx.close()
        log.info("custodyd stopped", extra={"event": "stopped"})


def serve(settings: Settings, options: ServeOptions | None = None) -> int:
    """Run until SIGTERM/SIGINT. Returns the process exit code."""
    daemon = Daemon(settings, options)
    daemon.install_signal_handlers()
    try:
        daemon.start(announce=lambda line: print(line, flush=True))
        daemon.wait()
    finally:
        daemon.shutdown()
    return 0
