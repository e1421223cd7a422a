"""Which addresses a feed added from a chat may reach. Pure.

A stranger's URL must not make tipoff fetch from the machine it runs on or its
network: loopback, private, link-local (cloud metadata services live at
169.254.169.254), multicast, unspecified, reserved and other non-public addresses are
refused, over IPv4 and IPv6, IPv4-mapped IPv6 included. The operator may allow hosts
or networks (`[fetch] allow`), which is also how tests reach 127.0.0.1."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from bot.i18n import _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(OSError):
    """Raised (as an OSError, so aiohttp passes it through) when a feed's host resolves
    to an address the policy forbids."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.shown = host if host == address else f"{host} ({address})"
        super().__init__(f"{self.shown} is a {reason} address, which feeds added from a chat may not use")
        self.host, self.address, self.reason = host, address, reason

    def said(self) -> str:
        """The refusal in the language spoken now (the exception's own text stays English:
        it is matched on when aiohttp wraps it)."""
        return _("{host} is a {kind} address, which feeds added from a chat may not use").format(
            host=self.shown, kind=self.reason)


def forbidden_reason(address: str) -> str | None:
    """Why an address is off limits, or None when it is a public one."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "malformed"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    checks = (("loopback", ip.is_loopback), ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
              ("unspecified", ip.is_unspecified), ("private", ip.is_private), ("reserved", ip.is_reserved))
    for reason, hit in checks:
        if hit:
            return reason
    return None if ip.is_global else "non-public"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_allow(cls, allow: tuple[str, ...] | list[str]) -> "AddressPolicy":
        hosts, networks = set(), []
        for item in allow:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def refusal(self, host: str, address: str) -> AddressRefused | None:
        """None when `host` (resolved to `address`) may be fetched, else why not."""
        if self.host_allowed(host):
            return None
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return AddressRefused(host, address, "malformed")
        if any(ip in net for net in self.networks if net.version == ip.version):
            return None
        reason = forbidden_reason(address)
        return AddressRefused(host, address, reason) if reason else None
