"""Typed readers for settings that come from environment variables."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Collection, Mapping
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

from smcbridge.zones import zone_named

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# The levels LOG_LEVEL may name, lowest first.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

T = TypeVar("T")


def env_str(name: str, default: str = "", *, environ: Mapping[str, str] = os.environ) -> str:
    """Return the variable as a stripped string, or the default when unset."""
    return environ.get(name, default).strip()


def env_code(
    name: str,
    default: str,
    *,
    max_length: int,
    optional: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> str:
    """Return the variable as a code of at most max_length characters, non-empty unless
    `optional` (then empty means unset)."""
    # For codes that go into an upstream filter or field: a longer one can never match (every
    # listing would come back empty), or is refused on each write, instead of failing at start-up.
    value = env_str(name, default, environ=environ)
    if not value:
        if optional:
            return value
        raise ImproperlyConfigured(f"{name} must not be empty")
    if len(value) > max_length:
        raise ImproperlyConfigured(
            f"{name} must be at most {max_length} characters; got {value!r} ({len(value)})"
        )
    return value


def env_timezone(
    name: str, default: str, *, optional: bool = False, environ: Mapping[str, str] = os.environ
) -> str:
    """Return the variable as a checked IANA time zone name (Europe/Berlin, UTC); empty only
    when `optional` (then it means unset)."""
    value = env_str(name, default, environ=environ)
    if optional and not value:
        return value
    if zone_named(value) is None:
        raise ImproperlyConfigured(
            f"{name} must be an IANA time zone name such as Europe/Berlin or UTC; got {value!r}"
        )
    return value


def env_loglevel(name: str, default: str, *, environ: Mapping[str, str] = os.environ) -> str:
    """Return the variable as one of LOG_LEVELS, in capitals (any case is accepted)."""
    # logging.config would otherwise refuse it with "Unable to configure root logger", a
    # traceback that names no variable.
    value = env_str(name, default, environ=environ)
    if value.upper() not in LOG_LEVELS:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(LOG_LEVELS)} (any case); got {value!r}"
        )
    return value.upper()


def _port_ok(parts: SplitResult) -> bool:
    """Whether a URL's port, if it names one, is a number a socket can use."""
    try:
        return parts.port is None or parts.port > 0
    except ValueError:  # a port that is no number, or out of range
        return False


def env_url(
    name: str, default: str, *, optional: bool = False, environ: Mapping[str, str] = os.environ
) -> str:
    """Return the variable as an absolute http:// or https:// URL with a host; empty only when
    `optional` (then it means unset)."""
    # A base URL without a scheme or host was accepted and each call failed later (requests'
    # MissingSchema, or a path appended to nothing). The value is not repeated in the message:
    # a URL may hold a user and password.
    value = env_str(name, default, environ=environ)
    if optional and not value:
        return value
    parts = urlsplit(value)
    port_ok = _port_ok(parts)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or any(char.isspace() for char in value)
    ):
        raise ImproperlyConfigured(
            f"{name} must be an absolute http:// or https:// URL with a host, such as "
            f"https://host.example.com/path (the value is not repeated: it may hold a password)"
        )
    return value


def env_redis_url(name: str, *, environ: Mapping[str, str] = os.environ) -> str:
    """Return the variable as a Redis URL redis-py can use (redis://, rediss:// with a host,
    unix:// with a socket path), or empty when unset."""
    # Unchecked, a malformed value passed `check` and started the web server; only the worker
    # died, its ValueError buried under the cluster's multiprocessing traceback. The value is
    # not repeated: a Redis URL may hold a password.
    value = env_str(name, "", environ=environ)
    if not value:
        return value
    parts = urlsplit(value)
    port_ok = _port_ok(parts)
    if parts.scheme == "unix":
        usable = bool(parts.path)
    else:
        # The path is the database number, "/0" to "/15" by default ("/" or none: 0).
        database = parts.path.removeprefix("/")
        usable = (
            parts.scheme in ("redis", "rediss")
            and bool(parts.hostname)
            and port_ok
            and (not database or database.isdigit())
        )
    if not usable or any(char.isspace() for char in value):
        raise ImproperlyConfigured(
            f"{name} must be a redis://host:port/db, rediss://host:port/db or "
            f"unix:///path/to/socket URL (the value is not repeated: it may hold a password)"
        )
    return value


def env_emails(name: str, *, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Return a comma-separated variable of email addresses as a list, each one checked."""
    # An address that is none was accepted, and each alert went nowhere (or failed at the relay)
    # when it was needed.
    addresses = env_list(name, [], environ=environ)
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated email addresses; {address!r} is not one"
            ) from None
    return addresses


def env_networks(
    name: str, default: list[str], *, environ: Mapping[str, str] = os.environ
) -> list[str]:
    """Return a comma-separated variable of IP addresses or networks (10.0.0.0/8), each checked
    and written as a network (127.0.0.1 as 127.0.0.1/32)."""
    networks = []
    for value in env_list(name, default, environ=environ):
        try:
            networks.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated IP addresses or networks; {value!r} is not one"
            ) from None
    return networks


def host_key(host: str) -> str:
    """A host name as compared: lower case, no IPv6 brackets, no final dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def is_host_name(entry: str) -> bool:
    """Whether `entry` is a bare host name or address: no scheme, port, path or user."""
    key = host_key(entry)
    if not key or any(c in key for c in "/@?#\\ "):
        return False
    if ":" not in key:
        return True
    try:  # only an IPv6 address holds a colon; "host:9000" is a port
        ipaddress.ip_address(key)
    except ValueError:
        return False
    return True


def env_host_names(
    name: str,
    default: list[str],
    *,
    example: str = "storage.example.com",
    environ: Mapping[str, str] = os.environ,
) -> list[str]:
    """Return a comma-separated variable of host names, each checked: one written with a scheme,
    port or path passed the start and then matched nothing (a download host: every KPI sync
    failed; an allowed host: every page answered 400)."""
    hosts = env_list(name, default, environ=environ)
    for value in hosts:
        if not is_host_name(value):
            raise ImproperlyConfigured(
                f"{name} must be comma-separated host names such as {example}, "
                f"without scheme, port or path; {value!r} is not one"
            )
    return hosts


def env_bool(name: str, default: bool = False, *, environ: Mapping[str, str] = os.environ) -> bool:
    """Return the variable as a boolean; anything but a known spelling is a mistake."""
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}"
    )


def env_int(
    name: str, default: int, *, minimum: int | None = None, environ: Mapping[str, str] = os.environ
) -> int:
    """Return the variable as an integer, checked against an optional minimum."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def env_float(
    name: str, default: float, *, minimum: float = 0.0, environ: Mapping[str, str] = os.environ
) -> float:
    """Return the variable as a float that is at least `minimum`."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number; got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def env_list(
    name: str, default: list[str], *, environ: Mapping[str, str] = os.environ
) -> list[str]:
    """Return a comma-separated variable as a list without blanks."""
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_mapping(
    name: str,
    default: Mapping[str, T],
    *,
    convert: Callable[[str], T],
    keys: Collection[str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, T]:
    """Return a `key=value,key=value` variable as a dict, each value passed through `convert`."""
    raw = environ.get(name, "").strip()
    if not raw:
        return dict(default)
    result: dict[str, T] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, text = (part.strip() for part in item.partition("="))
        if not sep or not key or not text:
            raise ImproperlyConfigured(f"{name} must be key=value pairs separated by commas")
        if keys is not None and key not in keys:
            raise ImproperlyConfigured(
                f"{name}: unknown key {key!r}; expected one of {', '.join(sorted(keys))}"
            )
        if key in result:
            raise ImproperlyConfigured(f"{name}: {key!r} is given twice")
        try:
            result[key] = convert(text)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: bad value for {key!r}: {exc}") from None
    if not result:
        raise ImproperlyConfigured(f"{name} holds no key=value pair")
    return result


def positive_int(text: str) -> int:
    """Convert a whole number above zero (a converter for env_mapping)."""
    value = int(text)
    if value <= 0:
        raise ValueError(f"{value} is not above zero")
    return value


def distinct_field_ids(ids: Mapping[str, int]) -> None:
    """Refuse two settings that name the same export field: its one column cannot be both."""
    seen: dict[int, str] = {}
    for name, field_id in ids.items():
        if field_id in seen:
            raise ImproperlyConfigured(
                f"{name} and {seen[field_id]} both name export field {field_id}; each column "
                f"the bridge reads needs its own field id"
            )
        seen[field_id] = name
