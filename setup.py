"""Maps the card's source folders onto the ``custodyd`` import package.

``daemon/`` -> ``custodyd.daemon``, ``api/`` -> ``custodyd.api``,
``hardware/`` -> ``custodyd.hardware``. Sub-packages are discovered by walking
each folder, so adding a package never means editing a list. Everything else
lives in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup

ROOTS = {"daemon": "custodyd.daemon", "api": "custodyd.api", "hardware": "custodyd.hardware"}

packages: list[str] = []
package_dir: dict[str, str] = {}
for folder, name in ROOTS.items():
    for init in sorted(Path(folder).rglob("__init__.py")):
        parts = init.parent.relative_to(folder).parts
        package = ".".join((name, *parts))
        packages.append(package)
        package_dir[package] = init.parent.as_posix()

setup(packages=packages, package_dir=package_dir)
