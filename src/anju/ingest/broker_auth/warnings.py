"""The start-up warning for a broker off loopback without credentials or TLS."""

from __future__ import annotations

import ipaddress

from anju.ingest.mqtt import BrokerAddress


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def broker_warnings(address: BrokerAddress) -> list[str]:
    """Why a connection to a broker off this machine is open to others (empty: it is not)."""
    if is_loopback(address.host):
        return []
    found: list[str] = []
    if not address.username:
        found.append(
            f"MQTT broker {address.host} is not on this machine and Anju logs in without credentials: "
            "anyone who can reach it may be able to fake alarms / "
            "MQTT 代理不在本机且未配置用户名密码，他人可能伪造报警"
        )
    if not address.tls:
        found.append(
            f"MQTT broker {address.host} is not on this machine and the connection is not encrypted "
            "(use mqtts://) / MQTT 代理不在本机且连接未加密（请用 mqtts://）"
        )
    return found
