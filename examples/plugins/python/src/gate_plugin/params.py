"""Declared parameters and their parsing: a missing, mistyped or unknown
parameter in a policy becomes an ``error`` finding naming the check and the
problem, never an exception."""

import json

SCALARS = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "bool": (bool,),
}


class ParamError(Exception):
    """A parameter the check cannot use; the SDK turns it into an ``error``
    finding with subject ``params``. Raise it from a check for a value that
    parsed but makes no sense."""


class Param:
    """One parameter of a check.

    ``kind`` is ``string``, ``integer``, ``number``, ``bool``, ``table`` (any
    TOML table), ``list<string>``, ``list<integer>``, ``list<number>``,
    ``list<bool>`` or ``list<table>``. A parameter with a default is optional.
    """

    def __init__(self, name, kind, description, *, required=False, default=None):
        if not _known_kind(kind):
            raise ValueError(f"parameter `{name}`: unknown kind `{kind}`")
        if required and default is not None:
            raise ValueError(f"parameter `{name}`: a required parameter has no default")
        if default is not None and not _matches(kind, default):
            raise ValueError(f"parameter `{name}`: default {default!r} is not a {kind}")
        self.name = name
        self.kind = kind
        self.description = description
        self.required = required
        self.default = default

    def default_toml(self):
        """The default as TOML text, as ``describe()`` reports it."""
        return None if self.default is None else _toml(self.default)


def _known_kind(kind):
    if kind in SCALARS or kind == "table":
        return True
    if kind.startswith("list<") and kind.endswith(">"):
        return _known_kind(kind[5:-1]) and not kind[5:-1].startswith("list<")
    return False


def _matches(kind, value):
    if kind == "table":
        return isinstance(value, dict)
    if kind.startswith("list<"):
        return isinstance(value, list) and all(_matches(kind[5:-1], v) for v in value)
    # JSON true is not an integer, however Python counts it.
    if isinstance(value, bool) and kind != "bool":
        return False
    return isinstance(value, SCALARS[kind])


def _type_name(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "table"
    return "null"


def _toml(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise ValueError(f"no TOML form for {value!r}")


def parse(declared, raw):
    """Checks ``raw`` (the policy's ``params`` table, decoded from JSON)
    against the ``declared`` parameters and returns a dict with every
    declared name, defaults filled in (``None`` for an unset optional
    parameter without a default). Raises ``ParamError``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamError(f"params must be a table, got {_type_name(raw)}")
    by_name = {p.name: p for p in declared}
    for name in raw:
        if name not in by_name:
            expected = ", ".join(f"`{p.name}`" for p in declared) or "none"
            raise ParamError(f"unknown parameter `{name}`; expected: {expected}")
    out = {}
    for p in declared:
        if p.name not in raw:
            if p.required:
                raise ParamError(f"missing required parameter `{p.name}` ({p.kind})")
            out[p.name] = p.default
            continue
        value = raw[p.name]
        if not _matches(p.kind, value):
            raise ParamError(f"parameter `{p.name}` must be {p.kind}, got {_type_name(value)}")
        out[p.name] = value
    return out
