"""Schemathesis against a live ``custodyd serve`` on SQLite: no 5xx, responses match the schema.

Seeded with one real evidence item (``custodyd image`` of a small file) so the
evidence operations reach their logic instead of only answering 404. Bounded:
a fixed number of examples per operation and a fixed seed.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import BIN, LiveServer, cli_json, start_server

EXAMPLES = int(os.environ.get("CUSTODYD_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    home = tmp_path / "home"
    source = tmp_path / "source.raw"
    source.write_bytes(random.Random(7).randbytes(512 * 1024))
    manifest = cli_json(home, "image", str(source), "--case", "ST-1")
    live = start_server(home, ["--no-udev"])
    try:
        yield live, str(manifest["evidence_id"])
    finally:
        live.stop()


@pytest.mark.slow
def test_schemathesis_no_5xx_and_schema_conformance(
    server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, evidence_id = server
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\nevidence_id = "{evidence_id}"\nref = "ST-1"\n')
    cmd = [
        str(BIN / "st"),
        "--config-file",
        str(config),
        "run",
        f"{live.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {live.admin_token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "20261123",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--no-color",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = result.stdout + result.stderr
    print(output[-4000:])
    assert result.returncode == 0, (
        output[-20000:] + "\n--- server log ---\n" + live.log.read_text()[-5000:]
    )
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated is not None and int(generated.group(1)) > 100, output[-3000:]
    assert live.process.poll() is None, "the server died under schemathesis"
