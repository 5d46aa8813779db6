"""Hardening: a message is only ever acknowledged on the connection it came on."""

from __future__ import annotations

import socket
import uuid

from anju.ingest.mqtt import MqttLink, parse_mqtt_url


def _link() -> MqttLink:
    return MqttLink(
        parse_mqtt_url("mqtt://127.0.0.1:1"),
        client_id=f"hardening-ack-{uuid.uuid4().hex[:8]}",
        version="v5",
        subscriptions=["anju/v1/+/event"],
        on_message=lambda _message, _generation: None,
        session_expiry_s=10,
    )


def test_a_message_from_the_old_connection_is_not_acked_on_a_new_socket_before_its_connack() -> None:
    link = _link()
    old, old_peer = socket.socketpair()
    new, new_peer = socket.socketpair()
    try:
        link._attach(old)
        came_on = link.generation  # a QoS 1 message arrives on the first connection
        link._detach(old)  # the connection drops before its batch commits
        link._attach(new)  # paho opens the next socket; CONNACK has not arrived yet
        assert link.generation != came_on
        assert link.ack(7, 1, came_on) is False
    finally:
        for sock in (old, old_peer, new, new_peer):
            sock.close()


def test_a_message_is_acked_on_the_connection_it_came_on() -> None:
    link = _link()
    sock, peer = socket.socketpair()
    try:
        link._attach(sock)
        came_on = link.generation
        assert link.ack(7, 1, came_on) is True
    finally:
        sock.close()
        peer.close()
