"""Params parsing and the rules `run` enforces, without a component: the
check functions here never call the host."""

import json
import unittest

from gate_plugin import CapabilityError, Param, ParamError, Plugin, Severity, Status

plugin = Plugin("acme", "0.1.0", "test plugin")


@plugin.check(
    "acme.services",
    title="services",
    description="one finding per service",
    severity=Severity.LOW,
    params=[
        Param("services", "list<string>", "services to look at", required=True),
        Param("limit", "integer", "how many", default=3),
        Param("strict", "bool", "fail instead of warn", default=False),
    ],
    capabilities=["fs"],
)
def services(ctx, params):
    if params["limit"] < 0:
        raise ParamError("`limit` must not be negative")
    for name in params["services"]:
        if name == "denied":
            raise CapabilityError("fs", "plugin `acme` is not granted `fs` access to `denied`", name)
        if name == "boom":
            raise KeyError("owner")
        if name == "secret":
            yield ctx.finding(name, Status.FAIL).message("token sk_live_4eC39HqLyjWDarjtT1zdp7dc leaked").evidence("password", "hunter2")
            continue
        yield ctx.finding(name, Status.PASS).message(f"limit {params['limit']}")


@plugin.check("acme.nothing", title="nothing", description="returns nothing")
def nothing(ctx, params):
    return []


def run(check, params):
    return plugin.run(check, json.dumps(params) if not isinstance(params, str) else params, "/work")


class Params(unittest.TestCase):
    def test_defaults_fill_in(self):
        [f] = run("acme.services", {"services": ["web"]})
        self.assertEqual((f.status, f.subject, f.message), ("pass", "web", "limit 3"))

    def test_missing_required(self):
        [f] = run("acme.services", {})
        self.assertEqual((f.status, f.subject), ("error", "params"))
        self.assertIn("missing required parameter `services`", f.message)

    def test_mistyped(self):
        for bad in [{"services": "web"}, {"services": [1]}, {"services": ["a"], "limit": "3"}, {"services": ["a"], "limit": True}]:
            [f] = run("acme.services", bad)
            self.assertEqual((f.status, f.subject), ("error", "params"), bad)
            self.assertIn("must be", f.message)

    def test_unknown(self):
        [f] = run("acme.services", {"services": ["a"], "limt": 2})
        self.assertEqual(f.status, "error")
        self.assertIn("unknown parameter `limt`", f.message)

    def test_check_raised_param_error(self):
        [f] = run("acme.services", {"services": ["a"], "limit": -1})
        self.assertEqual((f.status, f.subject), ("error", "params"))
        self.assertIn("must not be negative", f.message)

    def test_not_json(self):
        [f] = run("acme.services", "{nope")
        self.assertEqual((f.status, f.subject), ("error", "params"))

    def test_default_as_toml(self):
        limit = plugin.checks[0].params[1]
        self.assertEqual(limit.default_toml(), "3")
        self.assertEqual(Param("p", "list<string>", "d", default=["a", "b"]).default_toml(), '["a", "b"]')
        with self.assertRaises(ValueError):
            Param("p", "integer", "d", default="x")
        with self.assertRaises(ValueError):
            Param("p", "duration", "d")


class Rules(unittest.TestCase):
    def test_denied_capability_is_an_error(self):
        [f] = run("acme.services", {"services": ["web", "denied"]})
        self.assertEqual((f.status, f.subject), ("error", "denied"))
        self.assertIn("not granted `fs`", f.message)

    def test_exception_is_an_error_naming_it(self):
        [f] = run("acme.services", {"services": ["boom"]})
        self.assertEqual(f.status, "error")
        self.assertIn("KeyError", f.message)
        self.assertTrue(f.location.file.endswith("test_plugin.py"))

    def test_never_empty(self):
        [f] = run("acme.nothing", {})
        self.assertEqual(f.status, "error")
        self.assertIn("no findings", f.message)

    def test_unknown_check(self):
        [f] = run("acme.missing", {})
        self.assertEqual((f.status, f.subject), ("error", "acme"))

    def test_secrets_are_masked(self):
        [f] = run("acme.services", {"services": ["secret"]})
        self.assertNotIn("4eC39HqLyjWDarjtT1zdp7dc", f.message)
        self.assertEqual(f.evidence, [("password", "h…(7 chars)")])

    def test_declaration_mistakes(self):
        with self.assertRaises(ValueError):
            plugin.check("other.x", title="t", description="d")
        with self.assertRaises(ValueError):
            plugin.check("acme.services", title="t", description="d")


if __name__ == "__main__":
    unittest.main()
