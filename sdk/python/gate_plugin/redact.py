"""Masking for every value a check prints from a config file, an environment
variable, an HTTP body or a SQL row.

The same rules as the Rust SDK (``plugins/redact``): a finding shows enough of
a secret to find and rotate it, never the secret. ``shown`` is the one entry
point for such values; ``redact`` and ``url`` are its building blocks, and
``scrub`` is what every finding's text goes through when it is built.
"""

__all__ = ["redact", "shown", "text", "secret_key", "looks_secret", "scrub", "url"]

# Words that make a key name a secret (`db.password`, `API_TOKEN`, `dsn`).
SECRET_WORDS = (
    "secret",
    "password",
    "passwd",
    "token",
    "dsn",
    "key",
    "credential",
    "auth",
    "private",
)

# Prefixes of well-known credentials.
TOKEN_PREFIXES = (
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "whsec_",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AIza",
    "-----BEGIN",
    "eyJ",
)


def _ascii_alnum(c):
    return c.isascii() and c.isalnum()


def _token_char(c):
    return _ascii_alnum(c) or c in "_-+/="


def redact(secret):
    """``AKIA…(20 chars)``: at most 4 leading characters, fewer for short
    secrets, so a short password never shows more than a quarter of itself."""
    length = len(secret)
    head = secret[: min(length // 4, 4)]
    return f"{head}…({length} chars)"


def shown(key, value):
    """A value as a finding may show it: redacted when its key (a dotted path,
    a variable or header name; empty when there is none) names a secret or
    the value looks like one, and with any password in a URL masked."""
    if secret_key(key):
        return redact(value)
    value = url(value)
    if looks_secret(value):
        return redact(value)
    return value


def text(value):
    """``shown`` for a value without a key (an HTTP body excerpt, a SQL cell)."""
    return shown("", value)


def secret_key(key):
    """Whether the last segment of ``key`` names a secret."""
    cut = max(key.rfind("."), key.rfind("/"))
    leaf = "".join(c.lower() if c.isascii() else c for c in key[cut + 1 :])
    return any(word in leaf for word in SECRET_WORDS)


def looks_secret(value):
    """Whether ``value`` looks like a credential whatever its key: a
    well-known token prefix followed by token characters, a URL password, or
    a word that mixes lower case, upper case and digits the way generated
    keys do."""
    if url(value) != value:
        return True
    for prefix in TOKEN_PREFIXES:
        at = value.find(prefix)
        while at != -1:
            rest = value[at + len(prefix) :]
            run = 0
            for c in rest:
                if not _token_char(c):
                    break
                run += 1
                if run >= 8:
                    return True
            at = value.find(prefix, at + 1)
    word = []
    for c in value + " ":
        if _token_char(c):
            word.append(c)
            continue
        if _generated("".join(word)):
            return True
        word = []
    return False


def _generated(word):
    """A word of 16+ token characters with lower case, upper case and digits,
    or of 32+ with letters and digits (hex and base64 keys)."""
    n = len(word)
    lower = any(c.isascii() and c.islower() for c in word)
    upper = any(c.isascii() and c.isupper() for c in word)
    digit = any(c.isascii() and c.isdigit() for c in word)
    return (n >= 16 and lower and upper and digit) or (n >= 32 and (lower or upper) and digit)


def scrub(text):
    """``text`` with every well-known credential in it redacted in place and
    every URL password masked; the rest stays as it was. Unlike ``shown`` it
    does not guess at generated-looking words, so digests and ids survive."""
    out = []
    copied = 0
    i = 0
    n = len(text)
    while i < n:
        prev = text[i - 1] if i > 0 else ""
        boundary = i == 0 or not (_ascii_alnum(prev) or prev == "_")
        if boundary and text[i].isascii():
            end = None
            for prefix in TOKEN_PREFIXES:
                if not text.startswith(prefix, i):
                    continue
                start = i + len(prefix)
                tail = start
                while tail < n and text[tail].isascii() and _token_char(text[tail]):
                    tail += 1
                if tail - start >= 8:
                    end = tail
                    break
            if end is not None:
                out.append(text[copied:i])
                out.append(redact(text[i:end]))
                copied = i = end
                continue
        i += 1
    out.append(text[copied:])
    rest = "".join(out)
    # URL passwords: `scheme://user:pw@` wherever a URL starts.
    masked = []
    while True:
        at = rest.find("://")
        if at == -1:
            break
        head, tail = rest[: at + 3], rest[at + 3 :]
        masked.append(head)
        end = len(tail)
        for j, c in enumerate(tail):
            if c.isspace() or c in "\"'`<>":
                end = j
                break
        authority_end = end
        for j, c in enumerate(tail[:end]):
            if c in "/?#":
                authority_end = j
                break
        authority = tail[:authority_end]
        if "@" in authority and ":" in authority[: authority.rfind("@")]:
            userinfo, host = authority.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            masked.append(f"{user}:***@{host}")
            rest = tail[authority_end:]
        else:
            rest = tail
    masked.append(rest)
    return "".join(masked)


def url(text):
    """``scheme://user:password@host/…`` → ``scheme://user:***@host/…``.
    Anything before an ``@`` of a text that is not a URL is dropped
    (``***@host``), since it cannot be told apart from a password."""
    scheme_end = text.find("://")
    if scheme_end == -1:
        if "@" in text:
            before, host = text.rsplit("@", 1)
            if not any(c.isspace() for c in before) and not any(c.isspace() for c in host):
                return f"***@{host}"
        return text
    after = text[scheme_end + 3 :]
    authority_end = len(after)
    for j, c in enumerate(after):
        if c in "/?#":
            authority_end = j
            break
    authority = after[:authority_end]
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            return f"{text[: scheme_end + 3]}{user}:***@{host}{after[authority_end:]}"
    return text
