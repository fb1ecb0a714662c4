"""Trusted time for a pack: an RFC 3161 time stamp over manifest.json, stored beside it as manifest.tsr.

The scan sends the SHA-256 of manifest.json's bytes to the time-stamping authority in `[evidence] timestamp_url` and
stores the DER `TimeStampResp` it answers, as is, so `openssl ts -verify -data manifest.json -in manifest.tsr
-CAfile CA` checks it without auditor. The stamp proves the manifest (and so every file it hashes) existed no later
than the authority's time. manifest.tsr cannot be listed in the manifest it stamps; verify knows it by name.

The protocol (request, response, CMS signature and certificate chain) is rfc3161-client's; this module adds the
HTTP exchange and what auditor checks beyond it (the imprint is the manifest's, the nonce is ours).
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from auditor.errors import AuditorError
from auditor.evidence.files import UnreadableFile, read_bytes
from auditor.evidence.manifest import TIMESTAMP_NAME
from auditor.evidence.verify import CheckResult, Finding, OpenedPack, PackCheck
from auditor.timestamps import format_timestamp

REQUEST_TYPE = "application/timestamp-query"
RESPONSE_TYPE = "application/timestamp-reply"
TIMEOUT_SECONDS = 20.0
"""How long the scan waits for the authority; a slow TSA costs at most this, never the pack."""
MAX_RESPONSE_BYTES = 1 << 20
"""A TimeStampResp is a few kilobytes; anything much larger is not one."""
MAX_STAMP_BYTES = MAX_RESPONSE_BYTES
"""What verify reads of a pack's manifest.tsr at most."""


class TimestampError(AuditorError):
    """No valid stamp: the authority failed (a warning in a scan), or a stamp or CA file is bad (in verify)."""


@dataclass(frozen=True)
class Stamp:
    """What a time-stamp token says: when, by whom, under which policy and serial number."""

    time: datetime
    authority: str
    """The TSA certificate's subject (or the token's TSA name when it carries no certificate)."""
    serial_number: int
    policy: str

    def line(self) -> str:
        """One line for verify's report."""
        return f"{format_timestamp(self.time)} by {self.authority} (serial {self.serial_number}, policy {self.policy})"


def _parse(data: bytes, what: str) -> TimeStampResponse:
    try:
        return decode_timestamp_response(data)
    except ValueError as exc:
        raise TimestampError(f"{what} is not an RFC 3161 TimeStampResp ({exc})", "check the time-stamping URL") from exc


def _authority(response: TimeStampResponse) -> str:
    signers = list(response.signed_data.signer_infos)
    certificates = [x509.load_der_x509_certificate(der) for der in response.signed_data.certificates]
    for certificate in certificates:
        if (
            signers
            and certificate.issuer == signers[0].issuer
            and certificate.serial_number == signers[0].serial_number
        ):
            return certificate.subject.rfc4514_string()
    try:
        return str(response.tst_info.name.value)
    except (ValueError, AttributeError):
        return "an unnamed authority"


def describe(data: bytes) -> Stamp:
    """The time, authority, serial and policy a manifest.tsr states (not yet checked against any CA)."""
    response = _parse(data, "manifest.tsr")
    info = response.tst_info
    return Stamp(
        time=info.gen_time.replace(tzinfo=UTC) if info.gen_time.tzinfo is None else info.gen_time.astimezone(UTC),
        authority=_authority(response),
        serial_number=info.serial_number,
        policy=info.policy.dotted_string,
    )


def request_stamp(url: str, manifest: bytes, *, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """Ask the authority at `url` to stamp the SHA-256 of `manifest`; the DER TimeStampResp it granted.

    TimestampError when it cannot be reached, answers with anything but a granted stamp over exactly this
    manifest with our nonce, or takes longer than `timeout`.
    """
    request = TimestampRequestBuilder().data(manifest).hash_algorithm(HashAlgorithm.SHA256).build()
    http = urllib.request.Request(
        url,
        data=request.as_bytes(),
        headers={"Content-Type": REQUEST_TYPE, "Accept": RESPONSE_TYPE},
        method="POST",
    )
    hint = "check [evidence] timestamp_url and that the authority is reachable; the pack is kept unstamped"
    try:
        with urllib.request.urlopen(http, timeout=timeout) as answer:
            body: bytes = answer.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"time-stamping authority {url} answered HTTP {exc.code}", hint) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TimestampError(f"time-stamping authority {url} cannot be reached ({reason})", hint) from exc
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError(f"time-stamping authority {url} sent more than {MAX_RESPONSE_BYTES} bytes", hint)
    response = _parse(body, f"the answer of {url}")
    if PKIStatus(response.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        detail = "; ".join(response.status_string) or f"status {response.status}"
        raise TimestampError(f"time-stamping authority {url} refused the request ({detail})", hint)
    info = response.tst_info
    if info.message_imprint.message != hashlib.sha256(manifest).digest():
        raise TimestampError(f"time-stamping authority {url} stamped another digest than the manifest's", hint)
    if info.nonce != request.nonce:
        raise TimestampError(f"time-stamping authority {url} answered with another request's nonce", hint)
    return body


def load_ca(path: Path) -> list[x509.Certificate]:
    """The certificates (PEM, one or more, or a single DER) in `path`; TimestampError (exit 2) when unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TimestampError(
            f"cannot read time-stamping CA {path}: {exc.strerror or exc}", "check --tsa-ca or [evidence] timestamp_ca"
        ) from exc
    try:
        found = (
            x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data else [x509.load_der_x509_certificate(data)]
        )
    except ValueError as exc:
        raise TimestampError(
            f"{path} holds no X.509 certificate ({exc})", "pass the TSA's CA certificate (PEM)"
        ) from exc
    if not any(c.issuer == c.subject for c in found):
        raise TimestampError(f"{path} holds no root (self-signed) certificate", "pass the TSA's root CA certificate")
    return found


def verify_stamp(tsr: bytes, manifest: bytes, ca: list[x509.Certificate]) -> Stamp:
    """Check manifest.tsr against the manifest's bytes and the CA certificates (from load_ca); the Stamp it proves.

    Self-signed certificates are trust anchors, the others intermediates. TimestampError names what failed: the
    chain, the signature, the TSA certificate's time-stamping purpose, or the digest.
    """
    builder = VerifierBuilder()
    for certificate in ca:
        if certificate.issuer == certificate.subject:
            builder = builder.add_root_certificate(certificate)
        else:
            builder = builder.add_intermediate_certificate(certificate)
    response = _parse(tsr, "manifest.tsr")
    try:
        builder.build().verify_message(response, manifest)
    except (VerificationError, ValueError) as exc:
        raise TimestampError(
            f"manifest.tsr does not verify against the time-stamping CA: {exc}",
            "the manifest changed after it was stamped, or the stamp is from another authority",
        ) from exc
    return describe(tsr)


@dataclass(frozen=True)
class StampCheck:
    """What verify found about a pack's manifest.tsr."""

    status: str
    """`unstamped`, `verified` (against the CA), `unchecked` (no CA given) or `invalid`."""
    detail: str
    stamp: Stamp | None = None


def stamp_check(ca: list[x509.Certificate] | None, *, required: bool = False) -> PackCheck:
    """verify's check of manifest.tsr (after CHECKS): against `ca` when given; with `required`, a pack without a
    stamp is a finding. Its note tells an intact pack's reader the time and the authority."""

    def check(pack: OpenedPack) -> CheckResult:
        if TIMESTAMP_NAME not in pack.files.names():
            result = check_stamp(None, pack.manifest_bytes, ca)
            if required:
                missing = "the pack is not time-stamped, so no CA can vouch for its time"
                return CheckResult(findings=[Finding(TIMESTAMP_NAME, "missing", missing)])
            return CheckResult(notes=[f"time stamp: {result.detail}"])
        try:
            data = read_bytes(pack.files, TIMESTAMP_NAME, MAX_STAMP_BYTES)
        except UnreadableFile as exc:
            return CheckResult(findings=[Finding(TIMESTAMP_NAME, "changed", f"cannot be read ({exc})")])
        result = check_stamp(data, pack.manifest_bytes, ca)
        if result.status == "invalid":
            return CheckResult(findings=[Finding(TIMESTAMP_NAME, "timestamp", result.detail)])
        return CheckResult(notes=[f"time stamp: {result.detail}"])

    return check


def check_stamp(tsr: bytes | None, manifest: bytes, ca: list[x509.Certificate] | None) -> StampCheck:
    """manifest.tsr (None when the pack has none) checked against the manifest and, when given, the CA."""
    if tsr is None:
        return StampCheck("unstamped", "not time-stamped")
    try:
        if ca is None:
            stamp = describe(tsr)
            return StampCheck("unchecked", f"time-stamped {stamp.line()}; not checked (no --tsa-ca)", stamp)
        stamp = verify_stamp(tsr, manifest, ca)
    except TimestampError as error:
        return StampCheck("invalid", error.message)
    except ValueError as error:  # a malformed certificate or field inside an otherwise parsable response
        return StampCheck("invalid", f"manifest.tsr is malformed ({error})")
    return StampCheck("verified", f"time-stamped {stamp.line()}; verified against the CA", stamp)
