"""EWF-E01 (Expert Witness / EnCase 6) output and input: :mod:`.layout` (the bytes),
:mod:`.writer` (a pipeline consumer writing segments), :mod:`.reader` (checked reads)."""
