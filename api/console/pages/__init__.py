"""One module per console page group; each defines ``router`` (see :mod:`custodyd.api.console`)."""
