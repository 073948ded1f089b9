// A plugin: its checks, `describe()`, and `run()` with every rule a check
// must keep enforced in one place (bad params, a denied capability or an
// exception become an `error` finding; never an empty list).
import { CapabilityError, ParamError } from './errors.js';
import { FindingBuilder, Severity, Status } from './finding.js';
import { Param, parse } from './params.js';

/** What a check gets besides its params. */
export class Context {
  constructor(check, cwd) {
    this.check = check;
    this.cwd = cwd;
  }

  /** Starts a finding for this check. */
  finding(subject, status) {
    return new FindingBuilder(this.check, subject, status);
  }

  /** An `error` finding: the check could not see what it checks. */
  error(subject, message) {
    return new FindingBuilder(this.check, subject, Status.ERROR).message(message);
  }
}

/** `const plugin = new Plugin('acme', '0.1.0', "Acme's own checks")`, one
 * `plugin.check({...}, fn)` per check, then
 * `export const { describe, run } = plugin.exports()`. */
export class Plugin {
  constructor(id, version, description) {
    this.id = id;
    this.version = version;
    this.description = description;
    this.checks = [];
  }

  /** Declares check `id`; `run(ctx, params)` returns (or yields) findings or builders. */
  check({ id, title, description, severity = Severity.MEDIUM, params = [], capabilities = [] }, run) {
    if (!id.startsWith(`${this.id}.`)) throw new TypeError(`check \`${id}\` must start with \`${this.id}.\``);
    if (this.checks.some((c) => c.id === id)) throw new TypeError(`check \`${id}\` is declared twice`);
    if (!Object.values(Severity).includes(severity)) throw new TypeError(`check \`${id}\`: unknown severity ${JSON.stringify(severity)}`);
    if (!params.every((p) => p instanceof Param)) throw new TypeError(`check \`${id}\`: params must be Param values`);
    if (typeof run !== 'function') throw new TypeError(`check \`${id}\`: the second argument runs the check`);
    this.checks.push({ id, title, description, severity, params, capabilities, run });
    return this;
  }

  /** The WIT `plugin-info` record. */
  describe() {
    return {
      id: this.id,
      version: this.version,
      description: this.description,
      checks: this.checks.map((c) => ({
        id: c.id,
        title: c.title,
        description: c.description,
        defaultSeverity: c.severity,
        params: c.params.map((p) => ({
          name: p.name,
          kind: p.kind,
          required: p.required,
          description: p.description,
          default: p.defaultToml(),
        })),
        capabilities: [...c.capabilities],
      })),
    };
  }

  /** Runs one check; `request` is the WIT `check-request` (params as JSON
   * text). Always returns at least one finding and never throws. */
  run(request) {
    const { check, params, cwd } = request;
    const ctx = new Context(check, cwd);
    const found = this.checks.find((c) => c.id === check);
    if (!found) return [ctx.error(this.id, `plugin \`${this.id}\` has no check \`${check}\``).build()];
    let raw;
    try {
      raw = params.trim() === '' ? {} : JSON.parse(params);
    } catch (e) {
      return [ctx.error('params', `params are not valid JSON: ${e.message}`).build()];
    }
    let findings;
    try {
      const values = parse(found.params, raw);
      const produced = found.run(ctx, values) ?? [];
      findings = Array.from(produced, (f) => built(f, check));
    } catch (e) {
      if (e instanceof ParamError) {
        return [
          ctx
            .error('params', `invalid params for \`${check}\`: ${e.message}`)
            .remediation("see `gate checks list` for this check's parameters")
            .build(),
        ];
      }
      if (e instanceof CapabilityError) {
        return [ctx.error(e.subject ?? check, e.message).remediation(e.remediation()).build()];
      }
      // An exception escaping the component would trap it.
      const name = e instanceof Error ? e.name : typeof e;
      const message = e instanceof Error ? e.message : String(e);
      return [ctx.error(check, `the check threw ${name}: ${message}`).build()];
    }
    if (findings.length === 0) {
      return [ctx.error(check, 'the check returned no findings; a check must report what it saw').build()];
    }
    return findings;
  }

  /** `describe` and `run`, to export from the component's entry module. */
  exports() {
    return { describe: () => this.describe(), run: (request) => this.run(request) };
  }
}

function built(f, check) {
  if (f instanceof FindingBuilder) return f.build();
  if (f && typeof f === 'object' && typeof f.subject === 'string' && typeof f.status === 'string') return f;
  throw new TypeError(`check \`${check}\` returned ${typeof f}, not a finding`);
}
