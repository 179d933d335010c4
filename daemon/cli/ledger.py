"""``custodyd ledger ...``: checkpoints, proofs, export, verification, the public key.

Appending is not a command: entries come from the services that do the work.
"""

from __future__ import annotations

import base64
import json
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from custodyd.daemon.cli.app import app
from custodyd.daemon.cli.common import context, print_json
from custodyd.daemon.errors import InvalidInput, LedgerIntegrityError

if TYPE_CHECKING:
    from custodyd.daemon.ledger.verify import VerifyReport


ledger_app = typer.Typer(name="ledger", help="The custody ledger.", no_args_is_help=True)
proof_app = typer.Typer(name="proof", help="RFC 9162 Merkle proofs.", no_args_is_help=True)
ledger_app.add_typer(proof_app, name="proof")
app.add_typer(ledger_app, name="ledger")

console = Console()
JSON = typer.Option(False, "--json", help="One JSON document on stdout.")


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


@ledger_app.command("checkpoint")
def checkpoint_cmd(json_out: bool = JSON) -> None:
    """Print the latest signed checkpoint (signing a new one if the ledger grew)."""
    from custodyd.daemon.ledger.note import Checkpoint

    ctx = context()
    note = ctx.ledger.checkpoint()
    if json_out:
        cp = Checkpoint.parse(note.split("\n\n")[0] + "\n")
        print_json(
            {
                "checkpoint": note,
                "origin": cp.origin,
                "size": cp.size,
                "root": base64.b64encode(cp.root).decode(),
                "public_key": ctx.ledger.public_key(),
            }
        )
    else:
        typer.echo(note, nl=False)


@ledger_app.command("public-key")
def public_key_cmd(
    founding: bool = typer.Option(
        False, "--founding", help="The ledger's founding key (what an outside verifier needs)."
    ),
    json_out: bool = JSON,
) -> None:
    """Print this appliance's C2SP verifier key (name+hash+base64); never creates one."""
    ledger = context().ledger
    trusted = ledger.trust()
    key = str(ledger.verifier) if founding else ledger.public_key()
    if json_out:
        doc: dict[str, Any] = {"public_key": key}
        if trusted.founding is not None:
            doc["founding_key"] = str(trusted.founding)
            doc["trusted"] = [str(v) for v in trusted.trusted_at(1 << 62).values()]
        print_json(doc)
    else:
        typer.echo(key)


@ledger_app.command("init-key")
def init_key_cmd(json_out: bool = JSON) -> None:
    """Create this appliance's signing key (explicitly; never replaces one).

    On an empty ledger the key founds it at the first entry. On a non-empty shared
    ledger it signs nothing until an enrolled appliance runs `ledger enroll-key`.
    """
    from custodyd.daemon.ledger import admin

    status = admin.init_key(context().ledger)
    if json_out:
        print_json(status.__dict__)
        return
    console.print(f"public key: {status.public_key}", highlight=False)
    if status.founding:
        console.print("the ledger is empty: this key founds it at the first entry")
    elif not status.trusted:
        name = status.public_key.split("+")[0]
        console.print(
            "not enrolled yet: on an enrolled appliance run\n"
            f"  custodyd ledger enroll-key {name} '{status.public_key}'",
            highlight=False,
        )
    if status.witnessed:
        console.print("the ledger verified; its checkpoint is now witnessed here")


@ledger_app.command("enroll-key")
def enroll_key_cmd(
    name: str = typer.Argument(..., help="The appliance's name (its key's name)."),
    public_key: str = typer.Argument(..., help="Its C2SP verifier key (`ledger public-key`)."),
    json_out: bool = JSON,
) -> None:
    """Add another appliance's key to the trust list (recorded as a ledger entry)."""
    from custodyd.daemon.cli.cases import cli_actor
    from custodyd.daemon.ledger import admin

    entry = admin.enroll_key(context().ledger, name, public_key, actor=cli_actor())
    _entry_out(entry, json_out, f"enrolled {name}")


@ledger_app.command("remove-key")
def remove_key_cmd(
    key: str = typer.Argument(..., help="The key (or its name) to remove from the trust list."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded)."),
    json_out: bool = JSON,
) -> None:
    """Remove a key from the trust list: checkpoints it signs afterwards are rejected."""
    from custodyd.daemon.cli.cases import cli_actor
    from custodyd.daemon.ledger import admin

    entry = admin.remove_key(context().ledger, key, actor=cli_actor(), reason=reason)
    _entry_out(entry, json_out, f"removed {key}")


@ledger_app.command("rotate-key")
def rotate_key_cmd(json_out: bool = JSON) -> None:
    """Replace this appliance's key; the old key signs the recorded handover."""
    from custodyd.daemon.cli.cases import cli_actor
    from custodyd.daemon.ledger import admin

    old, new = admin.rotate_key(context().ledger, actor=cli_actor())
    if json_out:
        print_json({"old_key": old, "new_key": new})
    else:
        console.print(f"rotated {old}\n     -> {new}", highlight=False)


@ledger_app.command("rewitness")
def rewitness_cmd(
    reason: str = typer.Option(..., "--reason", help="What happened and what was decided."),
    json_out: bool = JSON,
) -> None:
    """After a refusal has been investigated: record and set aside the old witnesses,
    witness the ledger as it is now (refused unless the database ledger verifies)."""
    from custodyd.daemon.cli.cases import cli_actor
    from custodyd.daemon.ledger import admin

    result = admin.rewitness(context().ledger, actor=cli_actor(), reason=reason)
    if json_out:
        print_json(result)
        return
    for item in result["witnesses"]:
        kept = f" (kept as {item['kept_as']})" if "kept_as" in item else ""
        console.print(f"{item['path']}: {item['state']}{kept}", highlight=False)
    console.print(f"recorded as entry {result['entry']}; witnessed size {result['size']}")


@ledger_app.command("discard-pending")
def discard_pending_cmd(
    ids: list[int] = typer.Argument(..., help="ledger_pending row ids that were refused."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded)."),
    json_out: bool = JSON,
) -> None:
    """Remove forged or malformed staged rows, recording what they held."""
    from custodyd.daemon.cli.cases import cli_actor

    entry = context().ledger.discard_pending(ids, actor=cli_actor(), reason=reason)
    _entry_out(entry, json_out, f"discarded {len(ids)} row(s)")


def _entry_out(entry: Any, json_out: bool, what: str) -> None:
    if json_out:
        print_json(entry.to_dict())
    else:
        console.print(f"{what}: ledger entry {entry.index}", highlight=False)


@proof_app.command("inclusion")
def inclusion_cmd(
    index: int = typer.Argument(..., help="Entry index."),
    size: int | None = typer.Option(None, "--size", help="Tree size (default: current)."),
    json_out: bool = JSON,
) -> None:
    """Prove that entry INDEX is in the tree of --size entries."""
    from custodyd.daemon.ledger import merkle

    ledger = context().ledger
    tree_size = ledger.size() if size is None else size
    proof = ledger.inclusion_proof(index, tree_size)
    root = ledger.root(tree_size)
    leaf_hash = merkle.leaf_hash(ledger.leaf(index))
    merkle.verify_inclusion(index, tree_size, leaf_hash, proof, root)  # never hand out a bad one
    doc: dict[str, Any] = {
        "index": index,
        "tree_size": tree_size,
        "leaf_hash": base64.b64encode(leaf_hash).decode(),
        "root": base64.b64encode(root).decode(),
        "proof": _b64(proof),
    }
    if json_out:
        print_json(doc)
        return
    console.print(f"inclusion of entry {index} in tree size {tree_size}")
    console.print(f"leaf hash  {doc['leaf_hash']}")
    console.print(f"root       {doc['root']}")
    for i, p in enumerate(doc["proof"]):
        console.print(f"  [{i}] {p}")


@proof_app.command("consistency")
def consistency_cmd(
    old: int = typer.Argument(..., help="Older tree size."),
    new: int = typer.Argument(..., help="Newer tree size."),
    json_out: bool = JSON,
) -> None:
    """Prove that the tree of OLD entries is a prefix of the tree of NEW entries."""
    from custodyd.daemon.ledger import merkle

    ledger = context().ledger
    proof = ledger.consistency_proof(old, new)
    old_root, new_root = ledger.root(old), ledger.root(new)
    merkle.verify_consistency(old, new, old_root, new_root, proof)
    doc: dict[str, Any] = {
        "first": old,
        "second": new,
        "first_root": base64.b64encode(old_root).decode(),
        "second_root": base64.b64encode(new_root).decode(),
        "proof": _b64(proof),
    }
    if json_out:
        print_json(doc)
        return
    console.print(f"consistency of tree size {old} with {new}")
    console.print(f"root {old}: {doc['first_root']}")
    console.print(f"root {new}: {doc['second_root']}")
    for i, p in enumerate(doc["proof"]):
        console.print(f"  [{i}] {p}")


@ledger_app.command("export")
def export_cmd(
    out: Path = typer.Option(..., "--out", help="Where to write BUNDLE.json."),
    json_out: bool = JSON,
) -> None:
    """Write every entry, every signed checkpoint and the public key for offline checks."""
    bundle = context().ledger.export_bundle()
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(bundle, indent=1) + "\n")
    tmp.replace(out)
    summary = {
        "bundle": str(out),
        "entries": len(bundle["entries"]),
        "checkpoints": len(bundle["checkpoints"]),
        "public_key": bundle["public_key"],
    }
    if json_out:
        print_json(summary)
    else:
        console.print(f"wrote {summary['entries']} entries to {out}")
        console.print(f"public key: {summary['public_key']}")


@ledger_app.command("verify")
def verify_cmd(
    bundle: Path | None = typer.Option(None, "--bundle", help="Verify this export offline."),
    key: str | None = typer.Option(
        None,
        "--key",
        help="The ledger's founding key (text or file) for --bundle; get it independently.",
    ),
    checkpoint: list[Path] = typer.Option(
        [], "--checkpoint", help="Also check against this signed checkpoint kept elsewhere."
    ),
    json_out: bool = JSON,
) -> None:
    """Re-check every entry, the tree, every checkpoint and every witness; exit 20 naming
    the first bad entry (a witness missing while the ledger has entries fails too)."""
    from custodyd.daemon.ledger import offline

    if bundle is not None:
        data = offline.load_bundle(bundle)
        if key is None:
            if not isinstance(data.get("public_key"), str):
                raise InvalidInput("the bundle has no public key; pass --key")
            console.print(
                "[yellow]warning:[/] no --key given: trusting the key inside the bundle",
                highlight=False,
            ) if not json_out else None
            key = data["public_key"]
        assert key is not None
        verifier = offline.read_key(key)
        with _busy("verifying the bundle", json_out):
            report = offline.verify_bundle(data, verifier)
    elif key is not None:
        raise InvalidInput("--key goes with --bundle")
    else:
        outside = []
        for path in checkpoint:
            try:
                outside.append((f"the checkpoint in {path}", path.read_text()))
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"cannot read checkpoint {path}: {exc}") from exc
        ledger = context().ledger
        with _busy(f"verifying {ledger.size()} ledger entries", json_out):
            report = ledger.verify(outside)
    _show(report, json_out)
    if not report.ok:
        where = (
            f"first bad entry: {report.first_bad_index}"
            if report.first_bad_index is not None
            else f"bad checkpoint: size {report.bad_checkpoint}"
        )
        raise LedgerIntegrityError(
            f"ledger verification failed ({where}): {report.message}",
            first_bad_index=report.first_bad_index,
            bad_checkpoint=report.bad_checkpoint,
        )


def _busy(what: str, json_out: bool) -> AbstractContextManager[Any]:
    """A spinner on stderr for people (a million entries take seconds); nothing for --json."""
    if json_out:
        return nullcontext()
    return Console(stderr=True).status(what)


def _show(report: VerifyReport, json_out: bool) -> None:
    if json_out:
        print_json(report.to_dict())
        return
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if report.ok:
        console.print(
            f"[green]ok[/] {report.size} entries, {report.checkpoints} checkpoint(s), "
            f"{report.witnesses} witness(es), root {report.root} ({report.seconds:.2f} s)",
            highlight=False,
        )
        return
    console.print(f"[bold red]FAILED[/] {report.size} entries checked", highlight=False)
    for problem in report.problems[:10]:
        console.print(f"  - {problem.message}", highlight=False)
