"""Text written by library owners, made fit to hand to agents: invisible characters removed,
fake role tags defused, rules capped, and instructions aimed at agents detected.

Everything a library's owner writes (twinmcp.json/context7.json rules and description, the
documentation itself) reaches coding agents, which act on what they read. Owner rules were the
channel of a public attack on Context7 in 2026. So this text is cleaned and capped both when it
is stored and when it is served (stored libraries may predate the rules), and a snippet, rule
or description that reads as an instruction to an agent is withheld, and the answer says so.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace

from twinmcp.search.library import LibraryMeta
from twinmcp.search.snippets import KIND_CODE, SnippetRecord
from twinmcp.tokens import count_tokens

MAX_RULES = 20
MAX_RULE_CHARS = 500
MAX_DESCRIPTION_CHARS = 500
MAX_TITLE_CHARS = 200
# What a library says it is (its README's opening prose), as resolution reads it.
MAX_ABOUT_CHARS = 600
# Rules may take at most this share of an answer's budget; snippets always get the rest.
RULES_BUDGET_SHARE = 0.2
# The heading and framing sentence the gateway prints above the rules, and each rule's "- ".
RULES_HEADING_TOKENS = 50
RULE_OVERHEAD_TOKENS = 3

_ELLIPSIS = "…"

# Characters that show nothing (or reorder what is shown) yet reach a model: zero-width and
# joiner characters, bidirectional controls (Trojan Source), word joiners and invisible
# operators, the BOM, interlinear annotation marks, variation selectors and the Unicode tag
# block (invisible ASCII, "ASCII smuggling"), Hangul and Mongolian fillers; and C0/C1 controls
# other than tab and newline. Line and paragraph separators become newlines.
_INVISIBLE_RANGES = (
    (0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x34F, 0x34F),
    (0x61C, 0x61C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F),
    (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
_VISIBLE_ONLY: dict[int, str | None] = {
    code: None for low, high in _INVISIBLE_RANGES for code in range(low, high + 1)
}
_VISIBLE_ONLY.update({0x0D: "\n", 0x85: "\n", 0x2028: "\n", 0x2029: "\n"})

# Markup that chat models read as a turn or a system message. In prose it is only ever an
# imitation; code keeps it (a Maven POM has a <system> element).
_ROLE_TAG = re.compile(
    r"<\s*/?\s*(?:system|system[ _-]?prompt|instructions?|assistant|human|developer|"
    r"im_start|im_end|tool_call|tool_result|function_calls?|function_results?)\s*(?:\s[^<>]{0,80})?/?>"
    r"|<\|[A-Za-z_]{2,24}\|>|\[/?INST\]|<</?SYS>>",
    re.IGNORECASE,
)

# Instructions aimed at the agent reading the text, not at the developer reading the docs.
# Each is a phrase documentation has no reason to use; `tests/test_ownertext.py` runs them
# over ../shared/eval's four libraries (4.5 MB of real docs and code), where none fires.
_WORDS = r"(?:\s+(?:all|any|the|your|my|these|those|of|every|other))*"
_INJECTION_PATTERNS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    (
        "asks to ignore earlier instructions",
        ("ignore", "disregard", "forget", "override", "bypass"),
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass)" + _WORDS + r"\s+(?:previous|prior|"
            r"above|earlier|preceding|former|original|system|existing)\s+(?:instructions?|"
            r"prompts?|rules|directions|directives|guidelines|context|messages?|commands?)\b"
        ),
    ),
    (
        "gives the agent a new role",
        ("you are now", "from now on", "pretend"),
        re.compile(
            r"\b(?:you\s+are\s+now|from\s+now\s+on,?\s+you\s+are|pretend\s+(?:to\s+be|you\s+are))"
            r"\s+(?:(?:a|an|my)\s+(?:[\w-]+\s+){0,2}?(?:assistant|ai|agent|llm|chatbot)\b|(?:in\s+)?"
            r"(?:jailbroken|unrestricted|unfiltered|dan\b|developer\s+mode|god\s+mode))"
        ),
    ),
    (
        "addresses AI agents",
        ("if you are a", "attention", "note", "message", "instruction", "important"),
        re.compile(
            r"\bif\s+you\s+are\s+an?\s+(?:ai|llm|large\s+language\s+model|language\s+model|"
            r"(?:ai|coding)\s+(?:assistant|agent|model))\b|\b(?:attention|note|message|"
            r"instructions?|important)\s+(?:to|for)\s+(?:all\s+|any\s+)?(?:(?:ai|llms?|large\s+"
            r"language\s+models?|language\s+models?)(?:\s+(?:assistants?|agents?|models?|tools?))?"
            r"|coding\s+(?:assistants?|agents?))\s*[:,.!]"
        ),
    ),
    (
        "asks to hide something from the user",
        ("the user",),
        re.compile(
            r"\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|mention\s+(?:this|it)\s+to|reveal\s+"
            r"(?:this|it)\s+to|show\s+(?:this|it)\s+to)\s+the\s+user\b|\bwithout\s+(?:telling|"
            r"informing)\s+the\s+user\b|\b(?:keep|hide)\s+(?:this|it)\s+(?:secret\s+)?from\s+"
            r"the\s+user\b"
        ),
    ),
    (
        "asks to send local secrets away",
        (
            ".ssh",
            "id_rsa",
            "id_ed25519",
            ".aws",
            ".netrc",
            ".env",
            "/etc/",
            "environment variables",
            "env vars",
            "secrets",
            "api keys",
            "credentials",
            "tokens",
        ),
        re.compile(
            r"(?:~/\.ssh|id_rsa|id_ed25519|~/\.aws|\.aws/credentials|\.netrc|\.env\s+file|"
            r"/etc/passwd|/etc/shadow|(?:all|your|the\s+user'?s)\s+(?:environment\s+variables|"
            r"env\s+vars|secrets|api\s+keys|credentials|tokens))[^.\n]{0,80}?\b(?:to|into)\s+"
            r"(?:https?://|\S+\.(?:ngrok|requestbin|pipedream|webhook)\S*|(?:this|the\s+following|"
            r"my)\s+(?:url|endpoint|server|webhook))"
        ),
    ),
    (
        "asks to run a command unseen",
        ("silently", "quietly", "secretly", "without"),
        re.compile(
            r"\b(?:run|execute)\s+(?:the\s+following|this)\s+(?:command|script|code)\s+"
            r"(?:silently|quietly|secretly|without\s+(?:asking|confirmation|telling|showing|"
            r"prompting))"
        ),
    ),
)
# HTML that hides its text from people who read the page: only an agent would see it. Code
# (a CSS tutorial's example) may show it; prose never needs to. A tab panel is hidden only
# until its tab is clicked (FastAPI's home page has several), so it does not count.
_OPEN_TAG = re.compile(r"<([A-Za-z][\w-]*)(\s[^<>]*)?/?>")
_ATTRIBUTE = re.compile(r"([^\s=/>\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")
_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|em|rem|%)?\s*(?:;|$)",
    re.IGNORECASE,
)


def hides_text(attributes: str) -> bool:
    """Whether an HTML start tag's attributes hide the element from people."""
    found: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(attributes):
        value = next((g for g in match.groups()[1:] if g is not None), "")
        found[match.group(1).lower()] = value
    if found.get("role", "").lower() == "tabpanel":
        return False
    return (
        "hidden" in found
        or found.get("aria-hidden", "").lower() == "true"
        or bool(_HIDING_STYLE.search(found.get("style", "")))
    )


def _has_hidden_html(text: str) -> bool:
    return "<" in text and any(
        match.group(2) and hides_text(match.group(2)) for match in _OPEN_TAG.finditer(text)
    )


def strip_invisible(text: str) -> str:
    """`text` without invisible, bidirectional-control or control characters."""
    if text.isascii() and text.isprintable():
        return text
    return text.replace("\r\n", "\n").translate(_VISIBLE_ONLY)


def defuse_role_tags(text: str) -> str:
    """Role markup (`<system>`, `</instructions>`, `<|im_start|>`, `[INST]`) shown, not obeyed:
    its angle and square brackets become single guillemets, so no model reads it as a turn."""
    if "<" not in text and "[" not in text:
        return text
    return _ROLE_TAG.sub(_defused, text)


def _defused(match: re.Match[str]) -> str:
    tag = match.group(0)
    for plain, shown in (("<", "\u2039"), (">", "\u203a"), ("[", "\u2039"), ("]", "\u203a")):
        tag = tag.replace(plain, shown)
    return tag


def clean_prose(text: str) -> str:
    """Owner prose as agents may read it: visible characters only, role tags defused."""
    return defuse_role_tags(strip_invisible(text))


def cap(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (an ellipsis marking the cut)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + _ELLIPSIS


def injection_in(text: str, *, is_code: bool = False) -> str | None:
    """Why `text` reads as instructions aimed at an AI agent, or None when it does not.

    Invisible characters and compatibility forms (full-width letters) are folded first, so
    "ig\u200bnore previous instructions" is caught too.
    """
    if not text:
        return None
    visible = strip_invisible(text)
    if not visible.isascii():
        visible = unicodedata.normalize("NFKC", visible)
    folded = " ".join(visible.lower().split())
    for reason, keywords, pattern in _INJECTION_PATTERNS:
        # A substring test is ten times cheaper than the pattern; most text has no keyword.
        if any(keyword in folded for keyword in keywords) and pattern.search(folded):
            return reason
    if not is_code and _has_hidden_html(text):
        return "hides text from people with HTML"
    return None


def clean_rules(rules: Sequence[str]) -> tuple[list[str], list[str]]:
    """(rules fit to show, a reason for each rule left out): cleaned, at most MAX_RULES of at
    most MAX_RULE_CHARS characters, without rules that address agents."""
    kept: list[str] = []
    dropped: list[str] = []
    for number, raw in enumerate(rules, start=1):
        rule = " ".join(clean_prose(raw).split())
        if not rule:
            continue
        reason = injection_in(raw)
        if reason is not None:
            dropped.append(f"rule {number} {reason}")
            continue
        if len(kept) == MAX_RULES:
            dropped.append(f"rules after the first {MAX_RULES} are not kept")
            break
        kept.append(cap(rule, MAX_RULE_CHARS))
    return kept, dropped


def clean_description(text: str) -> tuple[str, str | None]:
    """(the description fit to show, why it was left out or None)."""
    reason = injection_in(text)
    if reason is not None:
        return "", reason
    return cap(" ".join(clean_prose(text).split()), MAX_DESCRIPTION_CHARS), None


def rules_within(rules: Sequence[str], budget: int) -> tuple[list[str], int]:
    """The leading rules that fit in RULES_BUDGET_SHARE of `budget`, and the tokens they take
    (heading included); 0 when there are none."""
    room = int(budget * RULES_BUDGET_SHARE) - RULES_HEADING_TOKENS
    kept: list[str] = []
    used = 0
    for rule in rules:
        price = count_tokens(rule) + RULE_OVERHEAD_TOKENS
        if used + price > room:
            break
        kept.append(rule)
        used += price
    return kept, (used + RULES_HEADING_TOKENS if kept else 0)


def clean_meta(meta: LibraryMeta) -> tuple[LibraryMeta, list[str]]:
    """The library's owner-written fields fit to show, and what was left out and why."""
    rules, dropped = clean_rules(meta.rules)
    description, reason = clean_description(meta.description)
    if reason is not None:
        dropped.append(f"the description {reason}")
    title = cap(" ".join(clean_prose(meta.title).split()), MAX_TITLE_CHARS)
    # Never shown (resolution matches words against it), so only invisible characters go.
    about = cap(" ".join(strip_invisible(meta.about).split()), MAX_ABOUT_CHARS)
    cleaned = replace(meta, title=title, description=description, rules=tuple(rules), about=about)
    return cleaned, dropped


def clean_snippet(snippet: SnippetRecord) -> SnippetRecord:
    """The snippet with invisible characters removed everywhere and role tags defused outside
    code (code is shown in a fence and may hold such markup for real)."""
    is_code = snippet.kind == KIND_CODE
    return replace(
        snippet,
        title=clean_prose(snippet.title),
        description=clean_prose(snippet.description),
        content=strip_invisible(snippet.content) if is_code else clean_prose(snippet.content),
        breadcrumb=tuple(clean_prose(part) for part in snippet.breadcrumb),
    )


def snippet_injection(snippet: SnippetRecord) -> str | None:
    """Why the snippet reads as instructions aimed at an agent, or None."""
    prose = "\n".join((snippet.title, snippet.description, *snippet.breadcrumb))
    if snippet.kind == KIND_CODE:
        return injection_in(prose) or injection_in(snippet.content, is_code=True)
    return injection_in(prose + "\n" + snippet.content)
