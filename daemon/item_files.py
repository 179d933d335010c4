"""The names of the files in an evidence item's directory.

A core module because both sides of a boundary name them: imaging writes the rescue
map next to the image it makes, and the store knows which files of a directory are
records rather than the image — and the import contracts keep imaging and store apart.
"""

from __future__ import annotations

IMAGE_NAME = "image.raw"
MANIFEST_NAME = "manifest.json"
LOG_NAME = "acquisition.log"
INVENTORY_NAME = "inventory.json"
MAP_NAME = "ddrescue.map"  # GNU ddrescue mapfile of the acquisition (kept for a resume)
