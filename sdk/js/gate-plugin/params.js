// Declared parameters and their parsing: a missing, mistyped or unknown
// parameter in a policy becomes an `error` finding naming the check and the
// problem, never an exception.
import { ParamError } from './errors.js';

const SCALARS = ['string', 'integer', 'number', 'bool'];

function knownKind(kind) {
  if (SCALARS.includes(kind) || kind === 'table') return true;
  const inner = /^list<(.+)>$/.exec(kind);
  return inner !== null && !inner[1].startsWith('list<') && knownKind(inner[1]);
}

function matches(kind, value) {
  const inner = /^list<(.+)>$/.exec(kind);
  if (inner) return Array.isArray(value) && value.every((v) => matches(inner[1], v));
  switch (kind) {
    case 'table':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'bool':
      return typeof value === 'boolean';
    default:
      return false;
  }
}

function typeName(value) {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'table';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function toml(value) {
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(toml).join(', ')}]`;
  return `{ ${Object.entries(value).map(([k, v]) => `${k} = ${toml(v)}`).join(', ')} }`;
}

/** One parameter of a check. `kind` is `string`, `integer`, `number`,
 * `bool`, `table`, or `list<…>` of one of those. A parameter with a
 * default is optional. */
export class Param {
  constructor(name, kind, description, { required = false, default: def } = {}) {
    if (!knownKind(kind)) throw new TypeError(`parameter \`${name}\`: unknown kind \`${kind}\``);
    if (required && def !== undefined) throw new TypeError(`parameter \`${name}\`: a required parameter has no default`);
    if (def !== undefined && !matches(kind, def)) throw new TypeError(`parameter \`${name}\`: default ${JSON.stringify(def)} is not a ${kind}`);
    this.name = name;
    this.kind = kind;
    this.description = description;
    this.required = required;
    this.default = def;
  }

  /** The default as TOML text, as `describe()` reports it. */
  defaultToml() {
    return this.default === undefined ? undefined : toml(this.default);
  }
}

/** Checks `raw` (the policy's `params` table, decoded from JSON) against
 * the declared parameters; returns every declared name, defaults filled in
 * (`undefined` for an unset optional one). Throws `ParamError`. */
export function parse(declared, raw) {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ParamError(`params must be a table, got ${typeName(raw)}`);
  const names = declared.map((p) => p.name);
  for (const name of Object.keys(raw)) {
    if (!names.includes(name)) {
      const expected = names.map((n) => `\`${n}\``).join(', ') || 'none';
      throw new ParamError(`unknown parameter \`${name}\`; expected: ${expected}`);
    }
  }
  const out = {};
  for (const p of declared) {
    if (!(p.name in raw)) {
      if (p.required) throw new ParamError(`missing required parameter \`${p.name}\` (${p.kind})`);
      out[p.name] = p.default;
      continue;
    }
    const value = raw[p.name];
    if (!matches(p.kind, value)) throw new ParamError(`parameter \`${p.name}\` must be ${p.kind}, got ${typeName(value)}`);
    out[p.name] = value;
  }
  return out;
}
