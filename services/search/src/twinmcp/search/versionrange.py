"""Version selectors: semver ranges (`^4.2`, `4.x`, `>=1.2 <2 || 3`) and PEP 440 specifiers
(`~=2.0`, `>=1.4,<2`) matched against version names, the best match chosen."""

from __future__ import annotations

import re
from collections.abc import Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

# A version name as tags and registries write it: "v4.2.1", "4.2", "4.2.1-beta.1".
_SEMVER = re.compile(
    r"^[vV]?(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
# One semver comparator: an operator and a partial version whose missing or x parts are wildcards.
_COMPARATOR = re.compile(
    r"^(?P<op>\^|~>?|>=|<=|>|<|=)?\s*[vV]?"
    r"(?P<major>\d+|[xX*])(?:\.(?P<minor>\d+|[xX*]))?(?:\.(?P<patch>\d+|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_PEP440_ONLY = ("~=", "==", "!=", "===")
_WILD = {"x", "X", "*"}
# Characters a selector may hold: anything else is neither a version nor a range.
_SELECTOR_TEXT = re.compile(r"^[A-Za-z0-9.\-+^~<>=!*|, ]{1,128}$")
_RANGE_MARK = re.compile(r"[\^~<>=!*|,]|\s|(^|\.)[xX](\.|$)")

Triple = tuple[int, int, int]
# (operator, version) with operator one of >=, >, <, <=, ==.
Bound = tuple[str, Triple]


def is_range(text: str) -> bool:
    """Whether `text` is a range or specifier rather than one version's name."""
    return bool(_RANGE_MARK.search(text.strip()))


def is_selector_text(text: str) -> bool:
    """Whether `text` holds only the characters of a version range or specifier."""
    return bool(_SELECTOR_TEXT.match(text.strip()))


def is_partial(text: str) -> bool:
    """`4` or `4.2`: a version with parts left out, read as every version with that prefix."""
    return bool(re.match(r"^[vV]?\d+(\.\d+)?$", text.strip()))


def best_match(selector: str, versions: Iterable[str]) -> str | None:
    """The highest of `versions` the selector admits, or None (also for an unreadable one).

    Pre-releases match only a selector that names one, as npm and pip do.
    """
    text = selector.strip()
    candidates = list(versions)
    allows_pre = bool(re.search(r"\d-[0-9A-Za-z]|\d(a|b|rc|dev)\d", text))
    if _is_pep440(text):
        return _best_pep440(text, candidates, allows_pre)
    alternatives = _semver_alternatives(text)
    if alternatives is None:
        return None
    best: tuple[Triple, int, str] | None = None
    for name in candidates:
        parsed = _SEMVER.match(name.strip())
        if parsed is None or (parsed.group("pre") and not allows_pre):
            continue
        value = (
            int(parsed.group("major")),
            int(parsed.group("minor") or 0),
            int(parsed.group("patch") or 0),
        )
        if not any(all(_admits(bound, value) for bound in bounds) for bounds in alternatives):
            continue
        key = (value, 0 if parsed.group("pre") else 1, name)
        if best is None or key > best:
            best = key
    return best[2] if best else None


def _is_pep440(text: str) -> bool:
    return "," in text or text.startswith(_PEP440_ONLY) or bool(re.search(r"\.\*\s*$", text))


def _best_pep440(text: str, candidates: list[str], allows_pre: bool) -> str | None:
    try:
        specifier = SpecifierSet(text)
    except InvalidSpecifier:
        return None
    best: tuple[Version, str] | None = None
    for name in candidates:
        try:
            version = Version(name.strip().removeprefix("v").removeprefix("V"))
        except InvalidVersion:
            continue
        if not specifier.contains(version, prereleases=allows_pre):
            continue
        if best is None or (version, name) > best:
            best = (version, name)
    return best[1] if best else None


def _admits(bound: Bound, value: Triple) -> bool:
    op, edge = bound
    if op == ">=":
        return value >= edge
    if op == ">":
        return value > edge
    if op == "<":
        return value < edge
    if op == "<=":
        return value <= edge
    return value == edge


def _semver_alternatives(text: str) -> list[list[Bound]] | None:
    """The range as alternatives ('||') of bound lists; None when it is not a semver range."""
    alternatives: list[list[Bound]] = []
    for part in text.split("||"):
        part = part.strip()
        hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", part)
        if hyphen:
            low, high = _bounds(hyphen.group(1), ">="), _bounds(hyphen.group(2), "<=")
            if low is None or high is None:
                return None
            alternatives.append(low + high)
            continue
        # "> = 1.2" and ">= 1.2" are one comparator: join operators to their version first.
        tokens = re.sub(r"(\^|~>?|>=|<=|>|<|=)\s+", r"\1", part).split()
        bounds: list[Bound] = []
        for token in tokens or ["*"]:
            read = _bounds(token, "")
            if read is None:
                return None
            bounds.extend(read)
        alternatives.append(bounds)
    return alternatives


def _bounds(token: str, default_op: str) -> list[Bound] | None:
    match = _COMPARATOR.match(token.strip())
    if match is None:
        return None
    op = match.group("op") or default_op or "="
    parts = [match.group("major"), match.group("minor"), match.group("patch")]
    given = 0
    for part in parts:
        if part is None or part in _WILD:
            break
        given += 1
    numbers = [int(p) for p in parts[:given]]
    low: Triple = (*numbers, 0, 0, 0)[:3]  # type: ignore[assignment]
    if given == 0:
        return [] if op in ("=", ">=", "^", "~", "~>", "<=") else None

    def bump(index: int) -> Triple:
        raised = [*numbers[:index], numbers[index] + 1, 0, 0][:3]
        return (raised[0], raised[1], raised[2])

    if op == "^":
        first = next((i for i, n in enumerate(numbers) if n != 0), given - 1)
        return [(">=", low), ("<", bump(first))]
    if op in ("~", "~>"):
        return [(">=", low), ("<", bump(min(1, given - 1)))]
    if op == "=":
        return [("==", low)] if given == 3 else [(">=", low), ("<", bump(given - 1))]
    if op == ">":
        return [(">", low)] if given == 3 else [(">=", bump(given - 1))]
    if op == "<=":
        return [("<=", low)] if given == 3 else [("<", bump(given - 1))]
    return [(op, low)]  # >= and < : the missing parts are zeros
