"""The host's capabilities, each through the grant the policy gives the
plugin. A host ``err`` (a denied grant, an unreachable service) raises
``CapabilityError``; a check that lets it propagate reports one ``error``
finding naming the capability and the grant to add, so a check that cannot
see what it checks never passes.

The bindings (``wit_world``) exist only inside the component that
componentize-py builds, which imports them while it builds.
"""

import os

from .redact import scrub
from .redact import url as masked

try:
    # Imported while componentize-py builds the component (it runs the
    # app's imports then), so every interface the SDK calls is bound.
    from componentize_py_types import Err as _Err
    from wit_world.imports import clock as _clock
    from wit_world.imports import env as _env
    from wit_world.imports import files as _files
    from wit_world.imports import http as _http
    from wit_world.imports import log as _log
    from wit_world.imports import metrics as _metrics
    from wit_world.imports import net as _net
    from wit_world.imports import sql as _sql
    from wit_world.imports import system as _system
    from wit_world.imports import unix as _unix
except ImportError:  # outside a component: the SDK's own unit tests
    _Err = None


class CapabilityError(Exception):
    """A host capability refused or failed. ``subject`` says what the check
    was looking at, when known."""

    def __init__(self, capability, message, subject=None):
        super().__init__(f"{capability}: {message}")
        self.capability = capability
        self.message = message
        self.subject = subject

    def remediation(self):
        return f"grant `{self.capability}` to the plugin under [plugin.grants] of its [[plugin]] entry"


def _missing(message):
    """The host's message for a granted path that does not exist (ENOENT): the
    path was resolved under a grant first, so a refusal never reads as missing."""
    return "no such file or directory" in message.lower() and "not granted" not in message


def _call(capability, fn, *args, subject=None):
    try:
        return fn(*args)
    except _Err as e:
        raise CapabilityError(capability, str(e.value), subject) from None


class log:
    """Messages into gate's log (stderr). Always granted; counted against ``output_kb``."""

    @staticmethod
    def _log(level, message):
        wit = _log
        wit.log(getattr(wit.Level, level), scrub(str(message)))

    @staticmethod
    def debug(message):
        log._log("DEBUG", message)

    @staticmethod
    def info(message):
        log._log("INFO", message)

    @staticmethod
    def warn(message):
        log._log("WARN", message)

    @staticmethod
    def error(message):
        log._log("ERROR", message)


class clock:
    """Wall time. Always granted; ``GATE_TEST_NOW`` pins it in tests."""

    @staticmethod
    def now():
        """Seconds since the Unix epoch, UTC, as a float."""
        wit = _clock
        seconds, nanos = wit.now()
        return seconds + nanos / 1e9


class env:
    """Environment variables named in the ``env`` grant."""

    @staticmethod
    def get(name):
        """The variable's value, ``None`` when granted but unset."""
        wit = _env
        return _call("env", wit.get, name, subject=name)


class files:
    """Files through the ``fs`` grant: every path is resolved by the host
    first, which names the grant to add when it is refused."""

    @staticmethod
    def resolve(path, write=False):
        """The absolute path to open for ``path`` (relative to the working directory)."""
        wit = _files
        return _call("fs", wit.resolve, path, write, subject=path)

    @staticmethod
    def read_bytes(path, max_bytes=1 << 20):
        """The file's bytes, or ``None`` when it does not exist. Larger than
        ``max_bytes`` or refused: ``CapabilityError``."""
        wit = _files
        absolute = files.resolve(path)
        try:
            with open(absolute, "rb") as f:
                data = f.read(max_bytes + 1)
        except FileNotFoundError:
            if os.path.isdir(os.path.dirname(absolute)):
                return None
            # A file granted on its own is not preopened: the host reads it.
            try:
                return wit.read(absolute, max_bytes)
            except _Err as e:
                if _missing(str(e.value)):
                    return None
                raise CapabilityError("fs", str(e.value), path) from None
        except OSError as e:
            raise CapabilityError("fs", f"{path}: {e.strerror or e}", path) from None
        if len(data) > max_bytes:
            raise CapabilityError("fs", f"{path}: larger than the {max_bytes}-byte limit", path)
        return data

    @staticmethod
    def read_text(path, max_bytes=1 << 20):
        """The file as UTF-8 text, or ``None`` when it does not exist."""
        data = files.read_bytes(path, max_bytes)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise CapabilityError("fs", f"{path}: not valid UTF-8", path) from None

    @staticmethod
    def exists(path):
        return os.path.exists(files.resolve(path))

    @staticmethod
    def list_dir(path):
        """Names in a granted directory, sorted; ``None`` when it does not exist."""
        absolute = files.resolve(path)
        try:
            return sorted(os.listdir(absolute))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CapabilityError("fs", f"{path}: {e.strerror or e}", path) from None

    @staticmethod
    def stat(path):
        """Mode, owner and mtime (``kind``, ``size``, ``mode``, ``uid``, ``gid``, ``owner``, ``group``, ``modified``)."""
        wit = _files
        return _call("fs", wit.stat, path, subject=path)


class http:
    """HTTP requests to the URL patterns in the ``http`` grant."""

    @staticmethod
    def fetch(url, method="GET", headers=(), body=None, timeout_ms=5000, max_bytes=1 << 20, ca_file=None):
        """The response (``status``, ``headers``, ``body`` bytes, ``truncated``, ``elapsed_ms``)."""
        wit = _http
        request = wit.Request(
            method=method,
            url=url,
            headers=list(headers),
            body=body,
            timeout_ms=timeout_ms,
            max_bytes=max_bytes,
            ca_file=ca_file,
        )
        return _call("http", wit.fetch, request, subject=masked(url))


class net:
    """TCP, DNS and TLS probes to the ``host:port`` patterns in the ``net`` grant."""

    @staticmethod
    def resolve(host, timeout_ms=5000):
        wit = _net
        return _call("net", wit.resolve, host, timeout_ms, subject=host)

    @staticmethod
    def connect(target, timeout_ms=5000):
        """``connected``, ``address``, ``elapsed_ms``, ``error``: a refused connect is not an error."""
        wit = _net
        return _call("net", wit.connect, target, timeout_ms, subject=target)

    @staticmethod
    def exchange(target, data, max_bytes=65536, delimiter=None, timeout_ms=5000):
        wit = _net
        opts = wit.ExchangeOptions(max_bytes=max_bytes, delimiter=delimiter, timeout_ms=timeout_ms)
        return _call("net", wit.exchange, target, bytes(data), opts, subject=target)

    @staticmethod
    def tls_inspect(target, server_name=None, ca_file=None, timeout_ms=5000):
        wit = _net
        opts = wit.TlsOptions(server_name=server_name, ca_file=ca_file, timeout_ms=timeout_ms)
        return _call("net", wit.tls_inspect, target, opts, subject=target)

    @staticmethod
    def tls_accepts_version(target, version, server_name=None, ca_file=None, timeout_ms=5000):
        wit = _net
        opts = wit.TlsOptions(server_name=server_name, ca_file=ca_file, timeout_ms=timeout_ms)
        return _call("net", wit.tls_accepts_version, target, version, opts, subject=target)


class unix:
    """Byte exchange over the sockets in the ``unix`` grant."""

    @staticmethod
    def exchange(path, data, max_bytes=65536, delimiter=None, timeout_ms=5000):
        wit = _unix
        opts = _net.ExchangeOptions(max_bytes=max_bytes, delimiter=delimiter, timeout_ms=timeout_ms)
        return _call("unix", wit.exchange, path, bytes(data), opts, subject=path)


class sql:
    """Read-only queries on the connections in the ``sql`` grant."""

    @staticmethod
    def query(connection, statement, params=(), timeout_ms=5000):
        """``columns``, ``rows`` (cells as text, ``None`` for NULL), ``elapsed_ms``."""
        wit = _sql
        return _call("sql", wit.query, connection, statement, list(params), timeout_ms, subject=connection)


class metrics:
    """PromQL on the providers in the ``metrics`` grant."""

    @staticmethod
    def instant(provider, query, timeout_ms=5000):
        wit = _metrics
        return _call("metrics", wit.instant, provider, query, timeout_ms, subject=provider)

    @staticmethod
    def range(provider, query, start, end, step_seconds, timeout_ms=5000):
        wit = _metrics
        return _call("metrics", wit.range, provider, query, int(start), int(end), step_seconds, timeout_ms, subject=provider)

    @staticmethod
    def api(provider, path, timeout_ms=5000):
        """``(status, body)`` of a GET under ``/api/v1/`` or ``/-/``."""
        wit = _metrics
        return _call("metrics", wit.api, provider, path, timeout_ms, subject=provider)


class system:
    """Host facts; disk usage follows the ``fs`` grant."""

    @staticmethod
    def disk_usage(path):
        wit = _system
        return _call("system", wit.disk_usage, path, subject=path)

    @staticmethod
    def limits():
        wit = _system
        return _call("system", wit.limits)
