"""Where an export download link may lead: to public addresses only, unless the operator says so.

The link comes from Khoros' export status answer, and whoever controls that answer (a
compromised Khoros, anyone in the path of an http:// KHOROS_BASE_URL) chooses where the bridge
connects. Followed anywhere, it reached the bridge's own loopback and the cloud's metadata
service, and told closed ports from open ones by its errors. So a link's host must resolve to
public addresses only; two kinds of host are exempt, whatever they resolve to:

- the host and port of KHOROS_BASE_URL itself, which the bridge talks to anyway (the simulator
  serves its download links there, on loopback);
- the host names of KHOROS_DOWNLOAD_HOSTS (storage the operator runs on a private network).

The check runs before any request is sent and again where the socket is opened
(`PublicOnlyAdapter`): the connection goes to the addresses that were checked, never to a
second DNS answer (rebinding). A refused link raises `KhorosDownloadRefusedError`, the same one
whatever state the internal port is in, since nothing was sent.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection, parse_url

from khoros.payloads import KhorosBadPayloadError
from smcbridge.env import host_key, is_host_name

_DEFAULT_PORTS = {"http": 80, "https": 443}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What the ipaddress module of some Python versions takes for global although it is not:
# 192.0.0.0/24 is IETF protocol assignments (3.11 calls most of it global).
_NOT_PUBLIC = (ipaddress.ip_network("192.0.0.0/24"),)
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits; the translator
# connects to that address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class KhorosDownloadRefusedError(KhorosBadPayloadError):
    """Raise when an export download link, or a redirect of it, leads to an address that is not
    public (loopback, private, link-local...), and its host is neither KHOROS_BASE_URL's nor one
    of KHOROS_DOWNLOAD_HOSTS. Nothing was sent to it."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """Tell whether an address is one of the public Internet's: not loopback, private,
    link-local, multicast, reserved or unspecified, in IPv4 or IPv6, including an IPv4 address
    carried inside an IPv6 one (::ffff:127.0.0.1)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False  # only link-local addresses need a zone
        inner = _embedded_ipv4(address)
        if inner is not None and not is_public_address(inner):
            return False
        if address.ipv4_mapped is not None or address in _NAT64:
            # The IPv4 address it carries (public, see above) is the one connected to; NAT64's
            # prefix lies in ::/8, which the ipaddress module calls reserved.
            return True
        if address.is_site_local:
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
        or any(address in network for network in _NOT_PUBLIC)
    )


@dataclass(frozen=True)
class DownloadPolicy:
    """Which hosts a download link may lead to, and the addresses it may connect to."""

    # KHOROS_BASE_URL's (host, port): the API's own origin.
    base_origin: tuple[str, int]
    # KHOROS_DOWNLOAD_HOSTS: host names trusted on any port, whatever they resolve to.
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def for_base_url(cls, base_url: str, allowed_hosts: tuple[str, ...] = ()) -> DownloadPolicy:
        """The policy of a client of `base_url`; refuse an allowed host that is no host name."""
        parts = parse_url(base_url)
        scheme = (parts.scheme or "").lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme, 80)
        allowed = set()
        for entry in allowed_hosts:
            key = host_key(entry)
            if not is_host_name(entry):
                raise ValueError(
                    f"KHOROS_DOWNLOAD_HOSTS: {entry!r} is not a host name (give names such as "
                    "storage.example.com, without scheme, port or path)"
                )
            allowed.add(key)
        return cls((host_key(parts.host or ""), port), frozenset(allowed))

    def trusts(self, host: str, port: int) -> bool:
        """Whether (host, port) may be connected to whatever its addresses are."""
        key = host_key(host)
        return (key, port) == self.base_origin or key in self.allowed_hosts

    def public_addresses(self, host: str, port: int) -> list[str]:
        """Resolve a host (socket.gaierror if it does not) to addresses that are all public.

        One address that is not public refuses the host: a name that answers both kinds is
        not one to trust with either.
        """
        infos = socket.getaddrinfo(
            host_key(host), port, connection.allowed_gai_family(), socket.SOCK_STREAM
        )
        addresses: list[str] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            text = str(sockaddr[0])
            if not is_public_address(ipaddress.ip_address(text)):
                raise self.refusal(host)
            if text not in addresses:
                addresses.append(text)
        return addresses

    def check(self, url: str) -> str:
        """Check a link before any request; return its host (for messages and logs).

        Raise KhorosBadPayloadError for a link that is no http(s) URL, and
        KhorosDownloadRefusedError for one whose host resolves to an address that is not public.
        """
        # The URL as requests sends it, so that the host checked is the host connected to.
        try:
            prepared = requests.PreparedRequest()
            prepared.prepare_url(url, None)
            parts = parse_url(prepared.url or "")
        except (requests.RequestException, ValueError):
            raise KhorosBadPayloadError("export download url is not an http(s) URL") from None
        scheme = (parts.scheme or "").lower()
        if scheme not in _DEFAULT_PORTS or not parts.host:
            raise KhorosBadPayloadError("export download url is not an http(s) URL")
        host = host_key(parts.host)
        port = parts.port or _DEFAULT_PORTS[scheme]
        # A host without an address is left to the request, which fails as unavailable.
        if not self.trusts(host, port):
            with contextlib.suppress(socket.gaierror, UnicodeError):
                self.public_addresses(host, port)
        return host

    def refusal(self, host: str) -> KhorosDownloadRefusedError:
        # The host only: the link's path and query string are its credential. The same words
        # for every address and port, so that the error tells nothing of the network behind.
        return KhorosDownloadRefusedError(
            f"the export download link leads to {host_key(host)}, which is not a public "
            "address: refused without sending it anything (KHOROS_DOWNLOAD_HOSTS lists the "
            "storage hosts allowed on a private network)"
        )


class _CheckedConnection(HTTPConnection):
    """An HTTP connection that opens its socket only to addresses its policy allows."""

    policy: ClassVar[DownloadPolicy]

    def _new_conn(self) -> socket.socket:
        port = self.port or self.default_port
        if self.policy.trusts(self.host, port):
            return super()._new_conn()
        try:
            # Resolved once: the socket goes to these checked addresses, not to another answer.
            addresses = self.policy.public_addresses(self.host, port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: OSError = OSError("getaddrinfo returns an empty list")
        for address in addresses:
            try:
                return connection.create_connection(
                    (address, port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                error = exc
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class _CheckedHTTPSConnection(_CheckedConnection, HTTPSConnection):
    """The same for HTTPS: TLS still verifies the link's host name, on the checked socket."""


def _pool_classes(rule: DownloadPolicy) -> dict[str, type[HTTPConnectionPool]]:
    class Http(_CheckedConnection):
        policy = rule

    class Https(_CheckedHTTPSConnection):
        policy = rule

    class HttpPool(HTTPConnectionPool):
        ConnectionCls = Http

    class HttpsPool(HTTPSConnectionPool):
        ConnectionCls = Https

    return {"http": HttpPool, "https": HttpsPool}


class PublicOnlyAdapter(HTTPAdapter):
    """A transport adapter whose direct connections follow a DownloadPolicy.

    Through a proxy (HTTPS_PROXY...) the proxy opens the connection to the link's host: only
    the check before the request (DownloadPolicy.check) applies then.
    """

    def __init__(self, policy: DownloadPolicy, **kwargs: Any) -> None:
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.policy)
