// The two errors a check may throw on purpose; `Plugin.run` turns each into
// an `error` finding instead of letting it trap the component.

/** A parameter the check cannot use (subject `params`). */
export class ParamError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ParamError';
  }
}

/** A host capability refused or failed (a denied grant, an unreachable service). */
export class CapabilityError extends Error {
  constructor(capability, message, subject) {
    super(`${capability}: ${message}`);
    this.name = 'CapabilityError';
    this.capability = capability;
    this.hostMessage = message;
    this.subject = subject;
  }

  remediation() {
    return `grant \`${this.capability}\` to the plugin under [plugin.grants] of its [[plugin]] entry`;
  }
}
