"""Findings, and the builder checks make them with."""

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from . import redact


class Status:
    """A finding's outcome, worst last: pass < skip < warn < fail < error.

    ``skip`` means "not applicable by the policy's own configuration"; a
    check that cannot see what it checks reports ``error``."""

    PASS = "pass"
    SKIP = "skip"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    ALL = (PASS, SKIP, WARN, FAIL, ERROR)


class Severity:
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"
    ALL = (INFO, LOW, MEDIUM, HIGH, CRITICAL)


@dataclass
class Location:
    file: str
    line: Optional[int] = None
    column: Optional[int] = None


@dataclass
class Finding:
    check: str
    subject: str
    status: str
    message: str = ""
    rule: Optional[str] = None
    severity: Optional[str] = None
    evidence: List[Tuple[str, str]] = field(default_factory=list)
    remediation: Optional[str] = None
    location: Optional[Location] = None


class FindingBuilder:
    """``ctx.finding(subject, Status.FAIL).message("…").evidence("k", v).build()``"""

    def __init__(self, check, subject, status):
        if status not in Status.ALL:
            raise ValueError(f"unknown status {status!r}; expected one of {', '.join(Status.ALL)}")
        self._finding = Finding(check=check, subject=str(subject), status=status)

    def message(self, message):
        self._finding.message = str(message)
        return self

    def rule(self, rule):
        self._finding.rule = str(rule)
        return self

    def severity(self, severity):
        if severity not in Severity.ALL:
            raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(Severity.ALL)}")
        self._finding.severity = severity
        return self

    def evidence(self, key, value):
        """Adds one evidence entry. A value under a key that names a secret
        (``password``, ``token``, …) is masked here; print other values read
        from config, the environment, HTTP or SQL through ``redact.shown``."""
        value = str(value)
        if redact.secret_key(key):
            value = redact.redact(value)
        self._finding.evidence.append((str(key), value))
        return self

    def remediation(self, hint):
        self._finding.remediation = str(hint)
        return self

    def location(self, file, line=None, column=None):
        self._finding.location = Location(str(file), line, column)
        return self

    def build(self):
        """The finding, with any well-known credential or URL password left
        in its text masked (``redact.scrub``)."""
        f = self._finding
        return Finding(
            check=f.check,
            subject=redact.scrub(f.subject),
            status=f.status,
            message=redact.scrub(f.message),
            rule=f.rule,
            severity=f.severity,
            evidence=[(k, redact.scrub(v)) for k, v in f.evidence],
            remediation=None if f.remediation is None else redact.scrub(f.remediation),
            location=f.location,
        )
