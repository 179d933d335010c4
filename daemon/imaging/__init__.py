"""The acquisition engine: one sequential pass that reads, hashes and writes a raw image.

Modules: :mod:`.reader` (source identity and sector-granular reads), :mod:`.hashers`
and :mod:`.piecewise` (digests on the same buffers), :mod:`.writer` (``.part`` ->
final name only on success), :mod:`.engine` (the threaded pipeline),
:mod:`.verify` (re-read and compare), :mod:`.safety` (refuse unsafe sources and
destinations), :mod:`.progress` (bytes, rate, ETA).
"""
