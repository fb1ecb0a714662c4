"""Ed25519 signatures over manifest.json: key generation, signing and checking.

`manifest.sig` is a small JSON document beside the manifest: the algorithm, the signer's public key (PEM), its
key id (sha256 of the raw public key) and the signature (base64) over the exact bytes of manifest.json. The
embedded key only proves the manifest was not changed since *someone* signed it; finding that key among the
trusted ones obtained separately (`verify --public-key`, `[evidence] trusted_keys`) proves *who* signed it. Private keys are read, used and dropped:
nothing here writes or logs them except `generate_keypair`, which writes the key file itself (mode 0600).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditor.bounded import loads
from auditor.errors import PackError

SIGNATURE_FORMAT = "auditor-signature/1"
ALGORITHM = "ed25519"


class SignatureDocument(TypedDict):
    """manifest.sig (auditor-signature/1): every field is checked, none may change unnoticed."""

    format: str
    algorithm: str
    signed_file: str
    manifest_sha256: str
    key_id: str
    public_key: str
    """The signer's public key, PEM."""
    signature: str
    """Base64 of the Ed25519 signature over the exact bytes of manifest.json."""


_SIGNATURE_KEYS = SignatureDocument.__required_keys__
PASSPHRASE_ENV = "AUDITOR_SIGN_KEY_PASSPHRASE"
"""Environment variable holding the passphrase of an encrypted private key (keygen writes unencrypted keys)."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """The public key's fingerprint: hex sha256 of its 32 raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as SubjectPublicKeyInfo PEM text."""
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class KeyPairFiles:
    """What `generate_keypair` wrote."""

    private: Path
    public: Path
    key_id: str


def generate_keypair(out_dir: Path, name: str = "auditor-signing") -> KeyPairFiles:
    """Write `<name>.key` (PKCS#8 PEM, mode 0600) and `<name>.pub` (PEM) into `out_dir`; never overwrite."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise PackError(f"key name {name!r} is not a plain file name", "use letters, digits, '.', '_' and '-'")
    private_path, public_path = out_dir / f"{name}.key", out_dir / f"{name}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise PackError(f"{path} already exists", "keys are never overwritten; choose another --out or --name")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PackError(f"cannot create {out_dir}: {exc.strerror}", "choose another --out") from exc
    key = Ed25519PrivateKey.generate()
    private_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        # O_EXCL with mode 0600: the key is never readable by others, not even for a moment.
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise PackError(f"{private_path} already exists", "keys are never overwritten") from exc
    except OSError as exc:
        raise PackError(f"cannot write {private_path}: {exc.strerror}", "choose another --out") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_bytes)
    public = key.public_key()
    with public_path.open("x", encoding="ascii") as handle:
        handle.write(public_pem(public))
    return KeyPairFiles(private_path, public_path, key_id(public))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key (PEM); a PackError that never quotes the file's content otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PackError(
            f"cannot read signing key {path}: {exc.strerror}", "pass --sign-key with a key from `auditor keygen`"
        ) from exc
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode() if passphrase else None)
    except TypeError as exc:
        raise PackError(f"signing key {path} is encrypted", f"set {PASSPHRASE_ENV} to its passphrase") from exc
    except ValueError as exc:
        raise PackError(
            f"signing key {path} is not a readable PEM private key (or the passphrase is wrong)",
            "pass --sign-key with the .key file `auditor keygen` wrote",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise PackError(f"signing key {path} is not an Ed25519 key", "make one with `auditor keygen --out DIR`")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key (PEM)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PackError(
            f"cannot read public key {path}: {exc.strerror}", "pass --public-key with the signer's .pub file"
        ) from exc
    return parse_public_key(data, str(path))


def parse_public_key(data: bytes, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes; PackError naming `where` otherwise."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise PackError(f"{where} is not a PEM public key", "use the .pub file `auditor keygen` wrote") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise PackError(f"{where} is not an Ed25519 public key", "use the .pub file `auditor keygen` wrote")
    return key


def signature_document(key: Ed25519PrivateKey, manifest_bytes: bytes) -> SignatureDocument:
    """manifest.sig's content: a detached signature over the exact manifest bytes."""
    public = key.public_key()
    return {
        "format": SIGNATURE_FORMAT,
        "algorithm": ALGORITHM,
        "signed_file": "manifest.json",
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "key_id": key_id(public),
        "public_key": public_pem(public),
        "signature": base64.b64encode(key.sign(manifest_bytes)).decode("ascii"),
    }


def signature_bytes(document: SignatureDocument) -> bytes:
    """manifest.sig as written."""
    return (json.dumps(document, indent=2) + "\n").encode()


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of checking manifest.sig."""

    valid: bool
    """The signature is sound: made over these manifest bytes by the key manifest.sig names."""
    key_id: str | None
    """Fingerprint of the key that made the signature (None when manifest.sig is unreadable)."""
    trusted: bool
    """That key is one of the trusted keys: the pack is authentic, not merely unchanged since someone signed it."""
    detail: str
    """One line: why it failed, or what was checked."""


def check_signature(
    sig_bytes: bytes, manifest_bytes: bytes, trusted: Sequence[Ed25519PublicKey] = ()
) -> SignatureCheck:
    """Check manifest.sig against the manifest, then whether the key that made it is one of `trusted`.

    A sound signature by a key outside `trusted` is valid but untrusted ("signed by another key"): the files may
    be exactly what that key's holder signed, but anyone can make a key pair and sign a pack of their own.
    """
    try:
        document = loads(sig_bytes)
        if not isinstance(document, dict) or document.get("format") != SIGNATURE_FORMAT:
            raise ValueError("not an auditor-signature/1 document")
        if document.get("algorithm") != ALGORITHM:
            raise ValueError(f"unsupported algorithm {document.get('algorithm')!r}")
        signature = base64.b64decode(str(document["signature"]), validate=True)
        embedded = parse_public_key(str(document["public_key"]).encode(), "manifest.sig's public key")
    except (ValueError, KeyError, TypeError, PackError) as exc:
        return SignatureCheck(False, None, False, f"manifest.sig is unreadable: {exc}")
    # Every field of manifest.sig must hold, not only the signature: no byte of the file may change unnoticed.
    if document.get("signed_file") != "manifest.json" or document.get("key_id") != key_id(embedded):
        return SignatureCheck(False, None, False, "manifest.sig's signed_file or key_id does not match its content")
    if document.get("manifest_sha256") != hashlib.sha256(manifest_bytes).hexdigest():
        return SignatureCheck(
            False, None, False, "manifest.sig was made for another manifest.json (manifest_sha256 differs)"
        )
    if set(document) != _SIGNATURE_KEYS:
        return SignatureCheck(False, None, False, "manifest.sig has unexpected fields")
    signer = key_id(embedded)
    try:
        embedded.verify(signature, manifest_bytes)
    except InvalidSignature:
        return SignatureCheck(False, signer, False, "the signature does not match manifest.json (edited after signing)")
    for key in trusted:
        if key_id(key) == signer:
            key.verify(signature, manifest_bytes)  # the same raw key: cannot fail where the embedded copy passed
            return SignatureCheck(True, signer, True, f"Ed25519 signature valid for trusted key {signer}")
    if trusted:
        ids = ", ".join(key_id(key) for key in trusted)
        return SignatureCheck(True, signer, False, f"signed by another key, {signer}, not by a trusted key ({ids})")
    return SignatureCheck(True, signer, False, f"signed by key {signer}, but no trusted key was given to check it")
