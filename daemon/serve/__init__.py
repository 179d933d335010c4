"""The ``custodyd serve`` process: its composition root.

Everything that *assembles* the running daemon lives here and nowhere else: the
threads and their start/stop order (:mod:`.daemon`), the HTTP server (uvicorn and
its connection limits, :mod:`.http_limits`), the scheduler wiring
(:mod:`.scheduler`), systemd notification (:mod:`.sdnotify`), logging set-up
(:mod:`.logs`) and the live :class:`~.runtime.Runtime` handed to the API. Domain
services (``custodyd.daemon.service``, acquisition, ledger, orders...) never
import this package; the import-linter contracts in ``.importlinter`` check it.
"""
