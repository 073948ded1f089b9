// Masking for every value a check prints from a config file, an environment
// variable, an HTTP body or a SQL row. The same rules as the Rust SDK
// (plugins/redact): a finding shows enough of a secret to find and rotate
// it, never the secret. `shown` is the one entry point for such values;
// `redact` and `url` are its building blocks, and `scrub` is what every
// finding's text goes through when it is built.

/** Words that make a key name a secret (`db.password`, `API_TOKEN`, `dsn`). */
export const SECRET_WORDS = ['secret', 'password', 'passwd', 'token', 'dsn', 'key', 'credential', 'auth', 'private'];

/** Prefixes of well-known credentials. */
export const TOKEN_PREFIXES = [
  'sk_live_', 'sk_test_', 'rk_live_', 'rk_test_', 'whsec_', 'AKIA', 'ASIA', 'ghp_', 'gho_', 'ghs_', 'ghu_',
  'github_pat_', 'glpat-', 'xoxb-', 'xoxp-', 'AIza', '-----BEGIN', 'eyJ',
];

const asciiAlnum = (c) => /^[A-Za-z0-9]$/.test(c);
const tokenChar = (c) => asciiAlnum(c) || '_-+/='.includes(c) && c.length === 1;
const isSpace = (c) => /^\s$/u.test(c);

/** `AKIA…(20 chars)`: at most 4 leading characters, fewer for short secrets. */
export function redact(secret) {
  const chars = Array.from(secret);
  const head = chars.slice(0, Math.min(Math.floor(chars.length / 4), 4)).join('');
  return `${head}…(${chars.length} chars)`;
}

/** A value as a finding may show it: redacted when its key names a secret or
 * the value looks like one, and with any password in a URL masked. */
export function shown(key, value) {
  if (secretKey(key)) return redact(value);
  const v = url(value);
  return looksSecret(v) ? redact(v) : v;
}

/** `shown` for a value without a key (an HTTP body excerpt, a SQL cell). */
export function text(value) {
  return shown('', value);
}

/** Whether the last segment of `key` names a secret. */
export function secretKey(key) {
  const cut = Math.max(key.lastIndexOf('.'), key.lastIndexOf('/'));
  const leaf = key.slice(cut + 1).replace(/[A-Z]/g, (c) => c.toLowerCase());
  return SECRET_WORDS.some((w) => leaf.includes(w));
}

/** Whether `value` looks like a credential whatever its key. */
export function looksSecret(value) {
  if (url(value) !== value) return true;
  for (const prefix of TOKEN_PREFIXES) {
    let at = value.indexOf(prefix);
    while (at !== -1) {
      let run = 0;
      for (const c of value.slice(at + prefix.length)) {
        if (!tokenChar(c)) break;
        if (++run >= 8) return true;
      }
      at = value.indexOf(prefix, at + 1);
    }
  }
  let word = '';
  for (const c of Array.from(value).concat([' '])) {
    if (tokenChar(c)) {
      word += c;
      continue;
    }
    if (generated(word)) return true;
    word = '';
  }
  return false;
}

/** A word of 16+ token characters with lower case, upper case and digits, or
 * of 32+ with letters and digits (hex and base64 keys). */
function generated(word) {
  const n = Array.from(word).length;
  const lower = /[a-z]/.test(word);
  const upper = /[A-Z]/.test(word);
  const digit = /[0-9]/.test(word);
  return (n >= 16 && lower && upper && digit) || (n >= 32 && (lower || upper) && digit);
}

/** `text` with every well-known credential redacted in place and every URL
 * password masked; the rest stays as it was (digests and ids survive). */
export function scrub(input) {
  const chars = Array.from(input);
  const n = chars.length;
  let out = '';
  let copied = 0;
  let i = 0;
  const isAscii = (c) => c.length === 1 && c.charCodeAt(0) < 128;
  while (i < n) {
    const prev = i > 0 ? chars[i - 1] : '';
    const boundary = i === 0 || !(asciiAlnum(prev) || prev === '_');
    if (boundary && isAscii(chars[i])) {
      let end = -1;
      for (const prefix of TOKEN_PREFIXES) {
        if (chars.slice(i, i + prefix.length).join('') !== prefix) continue;
        const start = i + prefix.length;
        let tail = start;
        while (tail < n && isAscii(chars[tail]) && tokenChar(chars[tail])) tail++;
        if (tail - start >= 8) {
          end = tail;
          break;
        }
      }
      if (end !== -1) {
        out += chars.slice(copied, i).join('') + redact(chars.slice(i, end).join(''));
        copied = i = end;
        continue;
      }
    }
    i++;
  }
  let rest = out + chars.slice(copied).join('');
  // URL passwords: `scheme://user:pw@` wherever a URL starts.
  let masked = '';
  for (;;) {
    const at = rest.indexOf('://');
    if (at === -1) break;
    masked += rest.slice(0, at + 3);
    const tail = rest.slice(at + 3);
    let end = tail.search(/[\s"'`<>]/u);
    if (end === -1) end = tail.length;
    let authorityEnd = tail.slice(0, end).search(/[/?#]/);
    if (authorityEnd === -1) authorityEnd = end;
    const authority = tail.slice(0, authorityEnd);
    const atSign = authority.lastIndexOf('@');
    if (atSign !== -1 && authority.slice(0, atSign).includes(':')) {
      const user = authority.slice(0, atSign).split(':')[0];
      masked += `${user}:***@${authority.slice(atSign + 1)}`;
      rest = tail.slice(authorityEnd);
    } else {
      rest = tail;
    }
  }
  return masked + rest;
}

/** `scheme://user:password@host/…` → `scheme://user:***@host/…`. Anything
 * before an `@` of a text that is not a URL is dropped (`***@host`). */
export function url(value) {
  const schemeEnd = value.indexOf('://');
  if (schemeEnd === -1) {
    const atSign = value.lastIndexOf('@');
    if (atSign !== -1) {
      const before = value.slice(0, atSign);
      const host = value.slice(atSign + 1);
      if (!Array.from(before).some(isSpace) && !Array.from(host).some(isSpace)) return `***@${host}`;
    }
    return value;
  }
  const after = value.slice(schemeEnd + 3);
  let authorityEnd = after.search(/[/?#]/);
  if (authorityEnd === -1) authorityEnd = after.length;
  const authority = after.slice(0, authorityEnd);
  const atSign = authority.lastIndexOf('@');
  if (atSign !== -1) {
    const userinfo = authority.slice(0, atSign);
    if (userinfo.includes(':')) {
      const user = userinfo.split(':')[0];
      return `${value.slice(0, schemeEnd + 3)}${user}:***@${authority.slice(atSign + 1)}${after.slice(authorityEnd)}`;
    }
  }
  return value;
}
