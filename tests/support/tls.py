"""A throwaway certificate authority and a server certificate for 127.0.0.1 / localhost.

CloudFormation's ResponseURL is an ``https://`` presigned S3 URL, and crhelper PUTs to it with
``http.client.HTTPSConnection`` and a *verifying* default SSL context. To exercise that exact code
path locally the response endpoint must speak real TLS with a certificate that a default context
accepts, so the tests mint a private CA and point ``SSL_CERT_FILE`` at it (see ``cfn_driver``)
instead of turning verification off in the code under test.

The keys never leave the process except as files in a private temporary directory, which is
removed when the interpreter exits. Generation costs a few milliseconds with EC keys, and the
result is cached per process so every endpoint shares one CA.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import ipaddress
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ThrowawayPki", "throwaway_pki"]


@dataclass(frozen=True)
class ThrowawayPki:
    """Paths of the PEM files making up the throwaway PKI."""

    directory: Path
    ca_cert_file: Path
    """The CA certificate alone: use it as a trust bundle (``SSL_CERT_FILE``, ``cafile=``)."""
    cert_file: Path
    """The leaf certificate followed by the CA certificate (a server's chain)."""
    key_file: Path
    """The leaf's unencrypted private key."""


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MeshedCrystal tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@functools.cache
def throwaway_pki() -> ThrowawayPki:
    """Create (once per process) a CA and a leaf certificate for ``127.0.0.1`` and ``localhost``."""
    # Backdate a little so a slightly skewed clock never makes the certificate "not yet valid".
    now = dt.datetime.now(dt.UTC)
    not_before = now - dt.timedelta(hours=1)
    not_after = now + dt.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("MeshedCrystal throwaway test CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    # The extensions below are what OpenSSL's strict X.509 checks (default in newer Pythons)
    # insist on: SAN (the CN is ignored for host matching), AKI/SKI, server-auth EKU.
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    directory = Path(tempfile.mkdtemp(prefix="meshed-crystal-pki-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    ca_cert_file = directory / "ca.pem"
    cert_file = directory / "server-chain.pem"
    key_file = directory / "server-key.pem"
    ca_cert_file.write_bytes(_pem(ca_cert))
    cert_file.write_bytes(_pem(leaf_cert) + _pem(ca_cert))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # mkdtemp already makes the directory 0700; the key file need not be readable by others.
    key_file.chmod(0o600)
    return ThrowawayPki(
        directory=directory, ca_cert_file=ca_cert_file, cert_file=cert_file, key_file=key_file
    )
