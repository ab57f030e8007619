"""The MQTT transport follows a renewed node certificate (real Mosquitto, real TLS, real CAs).

paho keeps the TLS context it was given, and its own reconnects present the certificate
that context holds. After a plant CA rotation the node renews onto the new CA; after
``lineguard ca retire`` the broker's cafile holds the new CA only and the broker is
restarted (Mosquitto reads ``cafile`` only at start). A transport that follows the
identity files reconnects with the renewed certificate and publishes; one built the old
way (no ``follow``) keeps presenting the superseded certificate and is refused for good.
"""

from __future__ import annotations

import ssl
import time
from pathlib import Path

from cryptography import x509
from pydantic import SecretStr

from lineguard.contracts.events import NodeHeartbeat
from lineguard.edge.identity import IdentityStore, node_ssl_context
from lineguard.edge.outbox.mqtt import MqttTransport
from lineguard.edge.outbox.transport import TransportUnavailableError
from lineguard.server.pki import PlantCa, start_ca_rotation
from tests.support.mosquitto import Mosquitto
from tests.support.test_pki import TestCa
from tests.support.waiting import until
from tests.unit.server.ingest.factory import heartbeat

PASSPHRASE = SecretStr("mqtt renewal ca passphrase")
BROKER_DEADLINE_S = 30.0


def _heartbeat() -> NodeHeartbeat:
    return NodeHeartbeat.model_validate(heartbeat("node-a", backlog=0))


def _save(store: IdentityStore, ca: PlantCa, *, node_id: str) -> None:
    """What enrolment or a renewal leaves on the node: a fresh key, its certificate, the CAs to trust."""
    key = store.generate_key()
    csr = x509.load_pem_x509_csr(store.csr_pem(key, node_id).encode("ascii"))
    issued = ca.issue_node_certificate(csr, node_id=node_id, days=7)
    store.save(key=key, cert_pem=issued.pem, ca_pem=ca.trust_pem)


def test_a_renewed_node_reconnects_with_its_new_certificate_after_the_ca_is_retired(tmp_path: Path) -> None:
    ot = TestCa(tmp_path / "ot-ca", "ot")  # the broker's own certificate
    server_dir = tmp_path / "server"
    old = PlantCa.create(server_dir, PASSPHRASE, site_id="plant-a")
    node_dir = tmp_path / "node-a"
    store = IdentityStore(node_dir)
    _save(store, old, node_id="node-a")

    def context() -> ssl.SSLContext:
        ctx = node_ssl_context(node_dir)
        ctx.load_verify_locations(cafile=ot.cert_path)
        return ctx

    broker = Mosquitto(tmp_path / "mosquitto", ot, client_cas=(server_dir / "ca" / "ca.crt.pem",))
    broker.start()
    following = MqttTransport(
        host="127.0.0.1",
        port=broker.port,
        node_id="node-a",
        ssl_context=context(),
        follow=(store.credentials_file, store.ca_file),
        rebuild=context,
    )
    # The old way: the context fixed at start (its own client id, so the two never collide).
    fixed = MqttTransport(host="127.0.0.1", port=broker.port, node_id="node-a-fixed", ssl_context=context())
    try:
        until(lambda: following.connected and fixed.connected)
        following.send_heartbeat(_heartbeat())
        assert following.reconnects == 0  # nothing changed: the same client

        start_ca_rotation(server_dir, PASSPHRASE, site_id="plant-a")
        new = PlantCa.load(server_dir, PASSPHRASE)
        _save(store, new, node_id="node-a")  # the node renewed onto the new CA
        # ca retire, then the broker's cafile rewritten (new CA only) and the broker restarted
        broker.stop()
        (tmp_path / "mosquitto" / "client-cas.pem").write_bytes(ot.cert_path.read_bytes() + new.pem.encode())
        broker.start()

        deadline = time.monotonic() + BROKER_DEADLINE_S
        while True:
            try:
                following.send_heartbeat(_heartbeat())
                break
            except TransportUnavailableError:
                assert time.monotonic() < deadline, "the renewed node never published after the retirement"
                time.sleep(0.25)
        assert following.reconnects == 1
        assert following.connected
        # The fixed transport had as long (and paho retries every 1-30 s): refused each time.
        time.sleep(3)
        assert not fixed.connected
    finally:
        following.close()
        fixed.close()
        broker.stop()
