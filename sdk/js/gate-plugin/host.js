// The host's capabilities, each through the grant the policy gives the
// plugin. A host `err` (a denied grant, an unreachable service) throws
// `CapabilityError`; a check that lets it propagate reports one `error`
// finding naming the capability and the grant to add, so a check that
// cannot see what it checks never passes.
//
// Only a component can import this module (the `gate:plugin/…` imports are
// the host's); 64-bit WIT integers are converted to and from numbers here.
import * as witClock from 'gate:plugin/clock@0.1.1';
import * as witEnv from 'gate:plugin/env@0.1.1';
import * as witFiles from 'gate:plugin/files@0.1.1';
import * as witHttp from 'gate:plugin/http@0.1.1';
import * as witLog from 'gate:plugin/log@0.1.1';
import * as witMetrics from 'gate:plugin/metrics@0.1.1';
import * as witNet from 'gate:plugin/net@0.1.1';
import * as witSql from 'gate:plugin/sql@0.1.1';
import * as witSystem from 'gate:plugin/system@0.1.1';
import * as witUnix from 'gate:plugin/unix@0.1.1';

import { CapabilityError } from './errors.js';
import { scrub, url as maskedUrl } from './redact.js';

function call(capability, subject, fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CapabilityError) throw e;
    const message = e && e.payload !== undefined ? String(e.payload) : e instanceof Error ? e.message : String(e);
    throw new CapabilityError(capability, message, subject);
  }
}

const num = (v) => (typeof v === 'bigint' ? Number(v) : v);
const bytes = (data) => (typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data));

/** Messages into gate's log (stderr). Always granted. */
export const log = {
  debug: (message) => witLog.log('debug', scrub(String(message))),
  info: (message) => witLog.log('info', scrub(String(message))),
  warn: (message) => witLog.log('warn', scrub(String(message))),
  error: (message) => witLog.log('error', scrub(String(message))),
};

/** Wall time. Always granted; `GATE_TEST_NOW` pins it in tests. */
export const clock = {
  /** Seconds since the Unix epoch, UTC. */
  now() {
    const [seconds, nanos] = witClock.now();
    return Number(seconds) + nanos / 1e9;
  },
};

/** Environment variables named in the `env` grant. */
export const env = {
  /** The value, `undefined` when granted but unset. */
  get: (name) => call('env', name, () => witEnv.get(name) ?? undefined),
};

function statOf(s) {
  return { ...s, size: num(s.size), modified: num(s.modified) };
}

/** Files through the `fs` grant: every path is resolved by the host first,
 * which names the grant to add when it is refused. Reads go through the
 * host (`files.read`), which only reaches what is granted. */
export const files = {
  /** The absolute path for `path` (relative to the working directory). */
  resolve: (path, write = false) => call('fs', path, () => witFiles.resolve(path, write)),
  /** Metadata (`kind`, `size`, `mode`, `uid`, `gid`, `owner`, `group`, `modified`), `undefined` when it does not exist. */
  stat(path) {
    const absolute = files.resolve(path);
    try {
      return statOf(witFiles.stat(absolute));
    } catch (e) {
      if (missing(e)) return undefined;
      throw new CapabilityError('fs', String(e?.payload ?? e), path);
    }
  },
  /** The file's bytes (`Uint8Array`), `undefined` when it does not exist. */
  readBytes(path, maxBytes = 1 << 20) {
    const absolute = files.resolve(path);
    try {
      return witFiles.read(absolute, BigInt(maxBytes));
    } catch (e) {
      if (missing(e)) return undefined;
      throw new CapabilityError('fs', String(e?.payload ?? e), path);
    }
  },
  /** The file as UTF-8 text, `undefined` when it does not exist. */
  readText(path, maxBytes = 1 << 20) {
    const data = files.readBytes(path, maxBytes);
    if (data === undefined) return undefined;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(data);
    } catch {
      throw new CapabilityError('fs', `${path}: not valid UTF-8`, path);
    }
  },
  exists: (path) => files.stat(path) !== undefined,
};

// The host's message for a granted path that does not exist (ENOENT): the
// path was resolved under a grant first, so a refusal never reads as missing.
function missing(e) {
  const message = String(e?.payload ?? '');
  return /No such file or directory/i.test(message) && !/not granted/.test(message);
}

/** HTTP requests to the URL patterns in the `http` grant. */
export const http = {
  /** `{ status, headers, body (Uint8Array), text(), truncated, elapsedMs }` */
  fetch(url, { method = 'GET', headers = [], body, timeoutMs = 5000, maxBytes = 1 << 20, caFile } = {}) {
    const request = {
      method,
      url,
      headers: headers.map(([k, v]) => [k, v]),
      body: body === undefined ? undefined : bytes(body),
      timeoutMs,
      maxBytes,
      caFile,
    };
    const response = call('http', maskedUrl(url), () => witHttp.fetch(request));
    return { ...response, text: () => new TextDecoder().decode(response.body) };
  },
};

const exchangeOptions = ({ maxBytes = 65536, delimiter, timeoutMs = 5000 } = {}) => ({
  maxBytes,
  delimiter: delimiter === undefined ? undefined : bytes(delimiter),
  timeoutMs,
});
const tlsOptions = ({ serverName, caFile, timeoutMs = 5000 } = {}) => ({ serverName, caFile, timeoutMs });

/** TCP, DNS and TLS probes to the `host:port` patterns in the `net` grant. */
export const net = {
  resolve: (host, timeoutMs = 5000) => call('net', host, () => witNet.resolve(host, timeoutMs)),
  /** `{ connected, address, elapsedMs, error }`: a refused connect is not an error. */
  connect: (target, timeoutMs = 5000) => call('net', target, () => witNet.connect(target, timeoutMs)),
  exchange: (target, data, options) => call('net', target, () => witNet.exchange(target, bytes(data), exchangeOptions(options))),
  tlsInspect(target, options) {
    const info = call('net', target, () => witNet.tlsInspect(target, tlsOptions(options)));
    return { ...info, chain: info.chain.map((c) => ({ ...c, notBefore: num(c.notBefore), notAfter: num(c.notAfter) })) };
  },
  tlsAcceptsVersion: (target, version, options) =>
    call('net', target, () => witNet.tlsAcceptsVersion(target, version, tlsOptions(options))),
};

/** Byte exchange over the sockets in the `unix` grant. */
export const unix = {
  exchange: (path, data, options) => call('unix', path, () => witUnix.exchange(path, bytes(data), exchangeOptions(options))),
};

/** Read-only queries on the connections in the `sql` grant. */
export const sql = {
  /** `{ columns, rows (cells as text, undefined for NULL), elapsedMs }` */
  query: (connection, statement, params = [], timeoutMs = 5000) =>
    call('sql', connection, () => witSql.query(connection, statement, params, timeoutMs)),
};

/** PromQL on the providers in the `metrics` grant. */
export const metrics = {
  instant: (provider, query, timeoutMs = 5000) => call('metrics', provider, () => witMetrics.instant(provider, query, timeoutMs)),
  range: (provider, query, start, end, stepSeconds, timeoutMs = 5000) =>
    call('metrics', provider, () =>
      witMetrics.range(provider, query, BigInt(Math.trunc(start)), BigInt(Math.trunc(end)), stepSeconds, timeoutMs),
    ),
  /** `[status, body]` of a GET under `/api/v1/` or `/-/`. */
  api: (provider, path, timeoutMs = 5000) => call('metrics', provider, () => witMetrics.api(provider, path, timeoutMs)),
};

/** Host facts; disk usage follows the `fs` grant. */
export const system = {
  diskUsage(path) {
    const s = call('system', path, () => witSystem.diskUsage(path));
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, num(v)]));
  },
  limits() {
    const s = call('system', undefined, () => witSystem.limits());
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, num(v)]));
  },
};
