// gate's plugin SDK for JavaScript: declare a plugin and its checks, parse
// their params, build findings and redact secrets. The host's capabilities
// are in `./host.js`, which only a component can import.
export { CapabilityError, ParamError } from './errors.js';
export { FindingBuilder, Severity, Status } from './finding.js';
export { Param, parse } from './params.js';
export { Context, Plugin } from './plugin.js';
export * as redact from './redact.js';
