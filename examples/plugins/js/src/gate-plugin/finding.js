// Findings, and the builder checks make them with.
import { redact, scrub, secretKey } from './redact.js';

/** A finding's outcome, worst last. `skip` means "not applicable by the
 * policy's own configuration"; a check that cannot see what it checks
 * reports `error`. */
export const Status = Object.freeze({ PASS: 'pass', SKIP: 'skip', WARN: 'warn', FAIL: 'fail', ERROR: 'error' });
export const Severity = Object.freeze({ INFO: 'info', LOW: 'low', MEDIUM: 'medium', HIGH: 'high', CRITICAL: 'critical' });

const STATUSES = Object.values(Status);
const SEVERITIES = Object.values(Severity);

/** `ctx.finding(subject, Status.FAIL).message('…').evidence('k', v).build()` */
export class FindingBuilder {
  constructor(check, subject, status) {
    if (!STATUSES.includes(status)) throw new TypeError(`unknown status ${JSON.stringify(status)}; expected one of ${STATUSES.join(', ')}`);
    this.finding = {
      check,
      rule: undefined,
      subject: String(subject),
      status,
      severity: undefined,
      message: '',
      evidence: [],
      remediation: undefined,
      location: undefined,
    };
  }

  message(message) {
    this.finding.message = String(message);
    return this;
  }

  rule(rule) {
    this.finding.rule = String(rule);
    return this;
  }

  severity(severity) {
    if (!SEVERITIES.includes(severity)) throw new TypeError(`unknown severity ${JSON.stringify(severity)}`);
    this.finding.severity = severity;
    return this;
  }

  /** Adds one evidence entry. A value under a key that names a secret is
   * masked here; print other values read from config, the environment,
   * HTTP or SQL through `redact.shown`. */
  evidence(key, value) {
    const v = String(value);
    this.finding.evidence.push([String(key), secretKey(String(key)) ? redact(v) : v]);
    return this;
  }

  remediation(hint) {
    this.finding.remediation = String(hint);
    return this;
  }

  location(file, line, column) {
    this.finding.location = { file: String(file), line, column };
    return this;
  }

  /** The finding (the WIT `finding` record), with any well-known credential
   * or URL password left in its text masked (`redact.scrub`). */
  build() {
    const f = this.finding;
    return {
      ...f,
      subject: scrub(f.subject),
      message: scrub(f.message),
      evidence: f.evidence.map(([k, v]) => [k, scrub(v)]),
      remediation: f.remediation === undefined ? undefined : scrub(f.remediation),
      location: f.location === undefined ? undefined : { ...f.location },
    };
  }
}
