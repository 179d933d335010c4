"""The running daemon: media registry, acquisition queue, scheduler, main loop.

``custodyd.daemon.runtime`` holds the :class:`~custodyd.daemon.runtime.Runtime`
object that ties them together and that the API (started in the same process)
finds with ``runtime.current()``.
"""
