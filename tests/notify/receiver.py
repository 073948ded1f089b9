#!/usr/bin/env python3
"""Test receivers for tests/notify.rs, on 127.0.0.1 (never a real service).

webhook: verifies every request with the `standardwebhooks` package (the
Standard Webhooks reference library, an implementation independent of
gate's) and answers each webhook-id's attempts by a script:
  --script 500,timeout,429:2,429-date:1,200   (the last action repeats)
slack: a local stand-in for Slack's Web API (chat.postMessage and
chat.update with a bearer token), since no real Slack can run here.

GET /stats returns what was seen as JSON. Prints the port on stdout.
"""
import argparse
import email.utils
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

p = argparse.ArgumentParser()
p.add_argument("--mode", choices=["webhook", "slack"], required=True)
p.add_argument("--secret", default="")
p.add_argument("--token", default="")
p.add_argument("--script", default="200")
args = p.parse_args()

lock = threading.Lock()
stats = {
    "requests": 0,
    "attempts": {},        # webhook-id -> attempts
    "delivered": {},       # webhook-id -> 2xx answers given
    "bad_signature": 0,
    "types": {},           # webhook-id -> payload type
    "first_ms": {},        # webhook-id -> first attempt (unix ms)
    "delivered_ms": {},    # webhook-id -> the 2xx answer (unix ms)
    "messages": {},        # slack ts -> {"channel", "text", "updates"}
    "posts": 0,
    "updates": 0,
    "bad_token": 0,
}
script = args.script.split(",")
hook = Webhook(args.secret) if args.mode == "webhook" else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def do_GET(self):
        with lock:
            body = json.dumps(stats).encode()
        self.answer(200, body, [("content-type", "application/json")])

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(n)
        with lock:
            stats["requests"] += 1
        if args.mode == "webhook":
            self.webhook(body)
        else:
            self.slack(body)

    def webhook(self, body):
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = hook.verify(body, headers)
        except WebhookVerificationError:
            with lock:
                stats["bad_signature"] += 1
            return self.answer(400, b"bad signature")
        wid = headers["webhook-id"]
        now = int(time.time() * 1000)
        with lock:
            k = stats["attempts"].get(wid, 0)
            stats["attempts"][wid] = k + 1
            stats["types"][wid] = payload.get("type")
            stats["first_ms"].setdefault(wid, now)
            action = script[min(k, len(script) - 1)]
        if action == "500":
            return self.answer(500, b"failing on purpose")
        if action == "timeout":
            time.sleep(3)
            return self.answer(500, b"too late")
        if action.startswith("429-date:"):
            at = time.time() + int(action.split(":")[1]) + 1
            return self.answer(429, b"slow down", [("retry-after", email.utils.formatdate(at, usegmt=True))])
        if action.startswith("429:"):
            return self.answer(429, b"slow down", [("retry-after", action.split(":")[1])])
        with lock:
            stats["delivered"][wid] = stats["delivered"].get(wid, 0) + 1
            stats["delivered_ms"].setdefault(wid, now)
        self.answer(204)

    def slack(self, body):
        if self.headers.get("authorization") != "Bearer " + args.token:
            with lock:
                stats["bad_token"] += 1
            return self.answer(200, json.dumps({"ok": False, "error": "invalid_auth"}).encode())
        req = json.loads(body)
        with lock:
            if self.path.endswith("/chat.postMessage"):
                stats["posts"] += 1
                ts = "%d.%06d" % (time.time(), stats["posts"])
                stats["messages"][ts] = {"channel": req["channel"], "text": req["text"], "updates": 0}
                out = {"ok": True, "channel": req["channel"], "ts": ts}
            elif self.path.endswith("/chat.update"):
                m = stats["messages"].get(req.get("ts"))
                if m is None:
                    out = {"ok": False, "error": "message_not_found"}
                else:
                    stats["updates"] += 1
                    m["text"] = req["text"]
                    m["updates"] += 1
                    out = {"ok": True, "channel": m["channel"], "ts": req["ts"]}
            else:
                out = {"ok": False, "error": "unknown_method"}
        self.answer(200, json.dumps(out).encode(), [("content-type", "application/json")])


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
