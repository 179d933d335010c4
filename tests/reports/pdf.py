"""Reading a PDF with outside tools (poppler-utils): text, info, PDF/A claim, pages as PNG,
and the inclusion proofs printed in a report's appendix B."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True
    ).stdout.decode()


def info(pdf: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True).stdout.decode()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def xmp(pdf: Path) -> str:
    return subprocess.run(
        ["pdfinfo", "-meta", str(pdf)], check=True, capture_output=True
    ).stdout.decode()


def pdfa_claim(pdf: Path) -> tuple[str, str] | None:
    """(part, conformance) the XMP metadata declares, e.g. ("2", "B")."""
    meta = xmp(pdf)
    part = re.search(r"<pdfaid:part>(\d)</pdfaid:part>", meta)
    conf = re.search(r"<pdfaid:conformance>([A-Za-z])</pdfaid:conformance>", meta)
    return (part.group(1), conf.group(1)) if part and conf else None


def pngs(pdf: Path, out: Path, dpi: int = 50) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out / "page")], check=True)
    return sorted(out.glob("page-*.png"))


@dataclass
class PrintedProof:
    index: int
    action: str
    leaf_hash: str
    path: list[str]


def proofs(txt: str) -> list[PrintedProof]:
    """Appendix B as printed: 'Entry N — action, …', 'leaf hash H', 'audit path (k hashes)',
    then k hex lines."""
    lines = [line.strip() for line in txt.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("Appendix B"))
    found: list[PrintedProof] = []
    i = start
    while i < len(lines):
        head = re.match(r"^Entry (\d+) \u2014 ([a-z_.]+),", lines[i])
        if not head:
            i += 1
            continue
        leaf = re.match(r"^leaf hash ([0-9a-f]{64})$", lines[i + 1])
        count = re.match(r"^audit path \((\d+) hashes\)$", lines[i + 2])
        assert leaf and count, lines[i : i + 3]
        n = int(count.group(1))
        path = [line for line in lines[i + 3 : i + 3 + n]]
        assert all(HEX64.match(h) for h in path), path
        found.append(PrintedProof(int(head.group(1)), head.group(2), leaf.group(1), path))
        i += 3 + n
    return found


def checkpoint_note(txt: str, origin: str) -> str:
    """The signed checkpoint as printed: origin, size, root, blank line, signature line."""
    lines = [line.strip() for line in txt.splitlines()]
    i = lines.index(origin)
    sig = next(line for line in lines[i + 3 :] if line.startswith("\u2014 "))
    return f"{lines[i]}\n{lines[i + 1]}\n{lines[i + 2]}\n\n{sig}\n"


def public_key(txt: str, name: str) -> str:
    keys = re.findall(rf"^({re.escape(name)}\+[0-9a-f]{{8}}\+[A-Za-z0-9+/=]+)$", txt, re.M)
    assert len(set(keys)) == 1, keys
    return keys[0]
