"""Domain services of the running appliance: the media registry and the acquisition queue.

They are plain Python over the context; the process that runs them (threads, udev
monitor, HTTP server, scheduler) is assembled in :mod:`custodyd.daemon.serve`.
"""
