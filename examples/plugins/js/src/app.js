// The `acme` example plugin: the same two checks as `../rust` and
// `../python`, so their figures compare like with like.
//
// - `acme.runbook` (fs): every listed service has a runbook with the
//   required headings.
// - `acme.env` (env): every listed environment variable is set and not
//   empty; values are shown redacted.
import { CapabilityError, Param, ParamError, Plugin, Severity, Status, redact } from './gate-plugin/index.js';
import { env, files } from './gate-plugin/host.js';

const plugin = new Plugin('acme', '0.1.0', "Acme's deployment checks (the JavaScript example)");

/** The headings of a Markdown text, without their `#`s, lower-cased. */
const headings = (text) =>
  text
    .split(/\r?\n/)
    .filter((l) => l.startsWith('#'))
    .map((l) => l.replace(/^#+/, '').trim().toLowerCase());

plugin.check(
  {
    id: 'acme.runbook',
    title: 'Every service has a runbook',
    description: 'Each listed service has DIR/SERVICE.md with every required heading.',
    severity: Severity.MEDIUM,
    params: [
      new Param('services', 'list<string>', 'the services that need a runbook', { required: true }),
      new Param('dir', 'string', "the runbooks' directory, relative to the working directory", { default: 'runbooks' }),
      new Param('headings', 'list<string>', 'headings every runbook must have', { default: ['Alerts', 'Rollback', 'Contacts'] }),
    ],
    capabilities: ['fs'],
  },
  function* (ctx, params) {
    if (params.services.length === 0) throw new ParamError('`services` is empty');
    for (const service of params.services) {
      const path = `${params.dir.replace(/\/+$/, '')}/${service}.md`;
      let text;
      try {
        text = files.readText(path);
      } catch (e) {
        if (!(e instanceof CapabilityError)) throw e;
        yield ctx.error(service, e.message);
        continue;
      }
      if (text === undefined) {
        yield ctx.finding(service, Status.FAIL).message(`no runbook at ${path}`).remediation(`write ${path}`);
        continue;
      }
      const found = headings(text);
      const missing = params.headings.filter((h) => !found.includes(h.toLowerCase()));
      if (missing.length > 0) {
        yield ctx
          .finding(service, Status.FAIL)
          .message(`${path} lacks headings: ${missing.join(', ')}`)
          .location(path, 1)
          .remediation('add a `## HEADING` section for each');
      } else {
        yield ctx.finding(service, Status.PASS).message(`${path} has every required heading`).location(path);
      }
    }
  },
);

plugin.check(
  {
    id: 'acme.env',
    title: 'Deploy variables are set',
    description: 'Each listed environment variable is set and not empty.',
    severity: Severity.HIGH,
    params: [new Param('required', 'list<string>', 'the variables the deploy needs', { required: true })],
    capabilities: ['env'],
  },
  (ctx, { required }) => {
    if (required.length === 0) throw new ParamError('`required` is empty');
    // A denied grant throws CapabilityError: one `error` finding for the check.
    return required.map((name) => {
      const value = env.get(name);
      if (value === undefined) return ctx.finding(name, Status.FAIL).message(`\`${name}\` is not set`);
      if (value === '') return ctx.finding(name, Status.FAIL).message(`\`${name}\` is empty`);
      return ctx.finding(name, Status.PASS).message(`\`${name}\` is set`).evidence('value', redact.shown(name, value));
    });
  },
);

export const { describe, run } = plugin.exports();
