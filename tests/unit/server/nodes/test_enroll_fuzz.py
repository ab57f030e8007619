"""Fuzz the public enrolment route over real HTTPS: whatever token and CSR a client sends,
the answer is a typed 4xx (never a 5xx), no node is enrolled and the real token is not
spent, so the node it was issued for can still enrol afterwards."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lineguard.edge.identity import enroll
from lineguard.server.nodes.models import EnrollmentToken, Node
from lineguard.server.pki import ca_paths
from tests.unit.server.conftest import Plant


def _csr(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, algorithm)
    return csr.public_bytes(serialization.Encoding.PEM).decode()


#: CSRs the server must refuse: wrong key types and curves (made once: RSA is slow).
WRONG_KEYS = [
    _csr(ec.generate_private_key(ec.SECP384R1())),
    _csr(ed25519.Ed25519PrivateKey.generate()),
    _csr(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
]
GOOD = _csr(ec.generate_private_key(ec.SECP256R1()))


def _tampered(pem: str, at: int, byte: int) -> str:
    """The CSR with one DER byte changed (a broken signature, or no longer DER at all)."""
    der = bytearray(x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER))
    at %= len(der)
    der[at] = byte if byte != der[at] else (byte + 1) % 256
    body = base64.encodebytes(bytes(der)).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


def _armoured(raw: bytes) -> str:
    body = base64.encodebytes(raw).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


def bad_csrs() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(_armoured),
        st.sampled_from(WRONG_KEYS),
        st.builds(_tampered, st.just(GOOD), st.integers(0, 10_000), st.integers(0, 255)),
    )


def _mutated_token(token: str, at: int, char: str) -> str:
    """The token with the character at ``at`` replaced by ``char``: never the token itself.

    Replacing a character by itself left the real token, which rightly enrolled the node
    (a CI run drew exactly that, then failed every replay: the token was spent).
    """
    at %= len(token)
    if char == token[at]:
        char = "!"  # outside every part's alphabet (hex, base64url, dots)
    return token[:at] + char + token[at + 1 :]


@pytest.fixture
def client(plant: Plant) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cafile=str(ca_paths(plant.settings.data_dir).cert))
    with httpx.Client(base_url=plant.url, verify=context, timeout=30) as c:
        yield c


@pytest.fixture
def real_token(plant: Plant) -> str:
    """Issued once per test (hypothesis shares it across examples): it must stay unspent."""
    return plant.token("node-z")


def _stored(plant: Plant, token_id: str) -> tuple[int, object]:
    with plant.session() as session:
        nodes = session.scalar(select(func.count()).select_from(Node))
        used_at = session.get(EnrollmentToken, token_id).used_at  # type: ignore[union-attr]
    return int(nodes or 0), used_at


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_fuzzed_enrolment_is_a_typed_4xx_and_stores_nothing(
    plant: Plant, client: httpx.Client, real_token: str, data: st.DataObject
) -> None:
    token = real_token
    which = data.draw(st.sampled_from(["real", "mutated", "random"]))
    if which == "real":
        sent_token, csr = token, data.draw(bad_csrs())
    else:
        sent_token = (
            data.draw(st.builds(_mutated_token, st.just(token), st.integers(0, 200), st.characters()))
            if which == "mutated"
            else data.draw(st.text(max_size=220))
        )
        csr = data.draw(bad_csrs() | st.just(GOOD))
    r = client.post("/api/v1/enroll", json={"token": sent_token, "csr_pem": csr})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert set(r.json()) == {"code", "message", "details"}
    assert _stored(plant, token.split(".")[1]) == (0, None)


def test_a_mutated_token_is_never_the_token_itself() -> None:
    token = "lgt1.0123456789abcdef." + "A" * 43 + "." + "f" * 64
    for at, char in enumerate(token):
        mutated = _mutated_token(token, at, char)
        assert mutated != token and len(mutated) == len(token)


def test_a_refused_csr_does_not_spend_the_token(plant: Plant, client: httpx.Client, tmp_path: Path) -> None:
    token = plant.token("node-y")
    for csr in [*WRONG_KEYS, _tampered(GOOD, 200, 0), _armoured(b"\x30\x03\x02\x01\x00"), "nonsense"]:
        r = client.post("/api/v1/enroll", json={"token": token, "csr_pem": csr})
        assert r.status_code == 400 and r.json()["code"] == "input_invalid", r.text
    assert _stored(plant, token.split(".")[1]) == (0, None)
    info = enroll(plant.url, token, tmp_path / "y")  # the node it was issued for still enrols
    assert info.node_id == "node-y"


#: Found by the fuzzing above in CI (PostgreSQL run): well-formed PEM whose CSR version
#: field is not v1, which cryptography refuses with InvalidVersion (not a ValueError).
BAD_VERSION_CSR = (
    "-----BEGIN CERTIFICATE REQUEST-----\n"
    "MIHJMHECAQEwDzENMAsGA1UEAwwEZnV6ejBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKen6kSU\n"
    "XwrR2riZbdaPkSMfdMoM1Po4H8Cef1mQwCrxPxt5xGg3R1r0fS72BT1puX08XNSi1De5HpYBukG1\n"
    "XbOgADAKBggqhkjOPQQDAgNIADBFAiANUYo6D7ZoBwsbN3TeRYrKNo3QMZwgIqqV43YkRI0JqgIh\n"
    "AJWufSC0CvCXCJ7KAsNzpWMkMb9Ekiwfa2ejzuU9/o8J\n"
    "-----END CERTIFICATE REQUEST-----\n"
)


def test_a_csr_with_an_invalid_version_is_a_400_not_a_500(client: httpx.Client, real_token: str) -> None:
    r = client.post("/api/v1/enroll", json={"token": real_token, "csr_pem": BAD_VERSION_CSR})
    assert r.status_code == 400, (r.status_code, r.text)
    assert "certificate signing request" in r.json()["message"]
