"""The Python SDK masks exactly what the Rust SDK (plugins/redact) masks:
sdk/redact-vectors.json holds the Rust crate's outputs, which
tests/plugins_polyglot.rs checks against the crate itself."""

import json
import pathlib
import unittest

from gate_plugin import redact

VECTORS = json.loads((pathlib.Path(__file__).resolve().parents[2] / "redact-vectors.json").read_text())


class SameAsRust(unittest.TestCase):
    def test_vectors(self):
        self.assertGreater(len(VECTORS), 30)
        for case in VECTORS:
            fn = getattr(redact, case["fn"])
            got = fn(case["key"], case["value"]) if case["fn"] == "shown" else fn(case["value"])
            self.assertEqual(got, case["expect"], case)


class Masks(unittest.TestCase):
    def test_never_contains_the_secret(self):
        for secret in ["ghp_0123456789abcdefABCDEFabcdef01234567", "p4ss-w0rd-long-enough", "ab", "éèêëēėę"]:
            self.assertNotIn(secret, redact.redact(secret))

    def test_secret_keys_mask_any_value(self):
        self.assertEqual(redact.shown("database.password", "hunter2"), "h…(7 chars)")
        self.assertEqual(redact.shown("API_TOKEN", "abc"), "…(3 chars)")

    def test_known_prefixes_under_any_key(self):
        for secret in ["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "AKIAZ3MSJV4WWNKWW5FG", "xoxb-123456789012-abcdefghijkl"]:
            self.assertNotIn(secret, redact.shown("rate", secret))
            self.assertNotIn(secret, redact.scrub(f"found {secret} in config"))

    def test_url_passwords(self):
        self.assertEqual(redact.url("https://ops:s3cret@app:8443/health?x=1"), "https://ops:***@app:8443/health?x=1")
        self.assertEqual(redact.scrub("dsn postgres://app:Pg9xQ2w@db/app"), "dsn postgres://app:***@db/app")

    def test_ordinary_values_stay_readable(self):
        for value in ["100", "10r/s", "production", "https://example.com/runbooks/BackendDown"]:
            self.assertEqual(redact.shown("rate", value), value)


if __name__ == "__main__":
    unittest.main()
