// The {{name}} plugin. `gate plugin build` turns this module into a
// WebAssembly component with jco (ComponentizeJS); `gate plugin test` runs
// the cases in cases/ against it. The SDK is in src/gate-plugin (written by
// `gate plugin new`, pinned to that gate's version).
import { Param, Plugin, Severity, Status, redact } from './gate-plugin/index.js';
import { files } from './gate-plugin/host.js';

const plugin = new Plugin('{{name}}', '0.1.0', "{{name}}'s own checks");

// `Owner: team-payments`, also as a list item (`- Owner: …`), any case.
const OWNER = /^[ \t]*(?:[-*][ \t]*)?owner[ \t]*:[ \t]*(\S.*?)[ \t]*$/im;

plugin.check(
  {
    id: '{{name}}.example',
    title: 'The README names an owner',
    description: 'The README exists and has an `Owner:` line naming the team to page.',
    severity: Severity.LOW,
    params: [new Param('path', 'string', 'the README, relative to the working directory', { default: 'README.md' })],
    capabilities: ['fs'],
  },
  (ctx, { path }) => {
    // A denied grant throws CapabilityError: the SDK reports it as `error`.
    const text = files.readText(path);
    if (text === undefined) {
      return [ctx.finding(path, Status.FAIL).message(`${path} does not exist`).remediation(`add ${path} with a line \`Owner: <team>\``)];
    }
    const owner = OWNER.exec(text);
    if (owner === null) {
      return [
        ctx.finding(path, Status.FAIL).message(`${path} has no \`Owner:\` line`).location(path, 1).remediation('add a line `Owner: <team>`'),
      ];
    }
    const line = text.slice(0, owner.index).split('\n').length;
    const name = redact.shown('owner', owner[1]);
    return [ctx.finding(path, Status.PASS).message(`owned by ${name}`).evidence('owner', name).location(path, line)];
  },
);

// The component's `check` world: `describe` and `run`.
export const { describe, run } = plugin.exports();
