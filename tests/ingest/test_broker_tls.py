"""``mqtts://``: the real ingestor against a real Mosquitto TLS listener with a certificate made here."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import ipaddress
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from anju.config import load_settings
from anju.context import Context
from anju.domain import DeviceKind
from anju.errors import ConfigError
from anju.ingest.ingestor import Ingestor
from anju.ingest.mqtt import tls_context
from anju.store.models import SensorEvent
from tests.support.ingest import NOW, eventually, free_port, kit_payload, register, uid
from tests.support.settings import make_settings


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA certificate, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The broker's certificate for 127.0.0.1 and localhost, signed by ``ca``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("anju-test-broker"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


@dataclass
class TlsBroker:
    port: int
    ca_file: Path
    wrong_ca_file: Path

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """A private Mosquitto whose only listener speaks TLS with a certificate from a CA made here."""
    work = tmp_path_factory.mktemp("mosquitto-tls")
    ca_key, ca = make_ca("Anju test CA")
    _, other_ca = make_ca("Some other CA")
    server_key, server = make_server_cert(ca_key, ca)
    ca_file = _pem(work / "ca.pem", ca)
    wrong_ca_file = _pem(work / "other-ca.pem", other_ca)
    cert_file = _pem(work / "server.pem", server)
    key_file = work / "server.key"
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(
        f"per_listener_settings false\nallow_anonymous true\npersistence false\nlistener {port} 127.0.0.1\n"
        f"cafile {ca_file}\ncertfile {cert_file}\nkeyfile {key_file}\n"
        + (f"user {getpass.getuser()}\n" if os.geteuid() == 0 else "")
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    log_file = (work / "mosquitto.log").open("wb")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 5
    while True:
        assert proc.poll() is None, (work / "mosquitto.log").read_text()
        try:
            import socket

            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)
    try:
        yield TlsBroker(port, ca_file, wrong_ca_file)
    finally:
        proc.terminate()
        proc.wait(5)
        log_file.close()


def tls_publish(broker: TlsBroker, topic: str, payload: bytes) -> None:
    """Publish once over TLS (QoS 1), as a gateway with the right CA does."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"tls-pub-{uid()}", protocol=paho.MQTTv5)
    client.tls_set(ca_certs=str(broker.ca_file))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(5)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


async def test_the_right_ca_connects_over_tls_and_ingests(
    db_url: str, tls_broker: TlsBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANJU_MQTT_CA_FILE", str(tls_broker.ca_file))
    assert load_settings().mqtt_ca_file == tls_broker.ca_file
    ctx = Context.create(make_settings(db_url))
    await register(ctx.db, "home-t", [("btn-t", DeviceKind.BUTTON)])
    ingestor = Ingestor(ctx, mqtt_url=tls_broker.url, client_id=f"tls-{uid()}")
    await ingestor.start()
    try:
        await asyncio.wait_for(ingestor.connected.wait(), 10)
        payload = kit_payload(7, NOW, type="button", event="press")
        await asyncio.to_thread(tls_publish, tls_broker, "anju/v1/btn-t/event", payload)

        async def stored() -> list[tuple[str, int | None]]:
            async with ctx.db() as session:
                rows = (await session.execute(select(SensorEvent.event, SensorEvent.seq))).all()
            return [(event, seq) for event, seq in rows]

        assert await eventually(stored, within_s=10) == [("press", 7)]
    finally:
        await ingestor.stop()
        await ctx.close()


async def test_a_broker_certificate_from_another_ca_is_refused_with_the_reason(
    sqlite_url: str, tls_broker: TlsBroker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ANJU_MQTT_CA_FILE", str(tls_broker.wrong_ca_file))
    ctx = Context.create(make_settings(sqlite_url))
    ingestor = Ingestor(ctx, mqtt_url=tls_broker.url, client_id=f"tls-{uid()}")
    with caplog.at_level(logging.ERROR, logger="anju.ingest.mqtt"):
        await ingestor.start()
        try:

            async def refused() -> list[str]:
                return [r.getMessage() for r in caplog.records if "does not verify" in r.getMessage()]

            messages = await eventually(refused, within_s=10)
            assert not ingestor.connected.is_set()
        finally:
            await ingestor.stop()
            await ctx.close()
    assert "certificate verify failed" in messages[0]
    assert "ANJU_MQTT_CA_FILE" in messages[0]


def test_an_unusable_ca_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ANJU_MQTT_CA_FILE .* is not a readable file"):
        load_settings(mqtt_ca_file=str(tmp_path / "missing.pem"))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        tls_context(str(garbage))
