"""Inventory of an image or device with The Sleuth Kit (``pytsk3``): volume system,
partitions, and the filesystems in them with an ``fls -r -p`` style entry count."""

from custodyd.daemon.inventory.tsk import inventory

__all__ = ["inventory"]
