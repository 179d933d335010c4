"""C2SP signed notes and checkpoints, against the published Go sumdb/note example."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodyd.daemon.ledger.note import (
    Checkpoint,
    NoteError,
    Verifier,
    open_checkpoint,
    open_note,
    raw_public_key,
    sign_note,
    verifier_key,
)

# The example of golang.org/x/mod/sumdb/note's documentation (also in the C2SP
# signed-note spec): verifier key and a note it signed.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpR"
    "Zb6KE6RyyBwJnAM=\n"
)


def test_go_reference_note_verifies() -> None:
    verifier = Verifier.parse(GO_VKEY)
    assert verifier.name == "PeterNeumann"
    assert str(verifier) == GO_VKEY
    text = open_note(GO_NOTE, verifier)
    assert text.startswith("If you think cryptography")
    tampered = GO_NOTE.replace("answer", "Answer")
    with pytest.raises(NoteError):
        open_note(tampered, verifier)


def test_sign_and_open_checkpoint() -> None:
    key = Ed25519PrivateKey.generate()
    vkey = verifier_key("example.com/log", raw_public_key(key.public_key()))
    cp = Checkpoint("example.com/log", 42, bytes(range(32)))
    note = sign_note(cp.text(), "example.com/log", key)
    root_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    assert note.startswith(f"example.com/log\n42\n{root_b64}\n\n— ")
    verifier = Verifier.parse(vkey)
    assert open_checkpoint(note, verifier, "example.com/log") == cp
    with pytest.raises(NoteError):
        open_checkpoint(note, verifier, "other.origin")
    other = Verifier.parse(
        verifier_key("example.com/log", raw_public_key(Ed25519PrivateKey.generate().public_key()))
    )
    with pytest.raises(NoteError):
        open_checkpoint(note, other)
    with pytest.raises(NoteError):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), verifier)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "name+zz+abc",
        "name+00000000+AQ==",
        "a b+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_verifier_keys(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(vkey)
