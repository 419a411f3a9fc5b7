"""Message templates: placeholders, fallbacks and spintax, compiled once and rendered fast.

Syntax
- `{{name}}`, `{{first_name}}`, `{{phone}}`, `{{email}}`, `{{language}}`, `{{custom.city}}`: the
  contact's value. `{{name|there}}`: the fallback when the value is empty. Spaces inside the
  braces are ignored (`{{ name | there }}`).
- `{Hi|Hello|Hey}`: spintax, one option per recipient; options may nest (`{Hi|{Hello|Hey} there}`)
  and contain placeholders. A brace group without a `|` is plain text (`{SAVE10}` stays as it
  is), as is a brace that is never closed. `\\{`, `\\}` and `\\|` are literal characters.

The spintax choice is a function of a seed (the materializer uses the campaign and the number),
so rendering the same recipient again gives the same text: a resumed or re-rendered campaign
never changes what a contact reads.

Materialization renders up to a million texts per start, so a template is compiled once into a
Python expression over a tuple of values (`CompiledTemplate.render(values, seed)`), in the order
of `CompiledTemplate.fields`; the materializer selects exactly those columns, already trimmed and
with empty strings as NULL (`field_sql`). Literals enter the generated code only through
`repr()`, field positions only as integers: template text can never become code.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from apps.core.exceptions import ValidationFailed

# Placeholders every contact has. `custom.<key>` reads the contact's custom fields.
STANDARD_FIELDS = ("name", "first_name", "phone", "email", "language")
CUSTOM_PREFIX = "custom."
# Custom field keys as imports write them (apps.contacts: "custom.<column>"): no braces or pipes.
_CUSTOM_KEY = re.compile(r"^[^{}|]{1,100}$")
# WhatsApp's own limit on one text (apps.senders.services.ledger.MAX_BODY_CHARS).
MAX_TEMPLATE_CHARS = 4096
# Nested spintax deeper than this is a mistake, not a message.
MAX_SPIN_DEPTH = 10
_LCG_MULTIPLIER = 6364136223846793005
_LCG_INCREMENT = 1442695040888963407
_MASK64 = (1 << 64) - 1


class TemplateError:
    UNKNOWN_PLACEHOLDER = "unknown_placeholder"
    EMPTY = "template_empty"
    TOO_LONG = "template_too_long"
    TOO_DEEP = "spintax_too_deep"


# --- the parse tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    key: str
    fallback: str
    source: str  # as written, for error messages


@dataclass(frozen=True)
class Spin:
    options: tuple[tuple[Node, ...], ...]


@dataclass(frozen=True)
class Braced:
    """A brace group without alternatives: rendered with its braces."""

    children: tuple[Node, ...]


Node = str | Field | Spin | Braced


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.fields: list[Field] = []

    def parse(self) -> tuple[Node, ...]:
        nodes, _ = self._sequence(depth=0, in_group=False)
        return nodes

    def _sequence(self, *, depth: int, in_group: bool) -> tuple[tuple[Node, ...], str]:
        """Parse until the end, or (inside a group) an unescaped `|` or `}`; returns the nodes and
        the stop character ("" at the end of the text)."""
        text, nodes, literal = self.text, [], []
        while self.i < len(text):
            ch = text[self.i]
            if ch == "\\" and self.i + 1 < len(text) and text[self.i + 1] in "{}|\\":
                literal.append(text[self.i + 1])
                self.i += 2
            elif text.startswith("{{", self.i):
                end = text.find("}}", self.i + 2)
                if end < 0:
                    literal.append("{{")
                    self.i += 2
                    continue
                if literal:
                    nodes.append("".join(literal))
                    literal = []
                nodes.append(self._field(text[self.i + 2 : end], text[self.i : end + 2]))
                self.i = end + 2
            elif ch == "{" and text.find("}", self.i) < 0:
                # Nothing closes it: text (and no need to look for a group at every such brace).
                literal.append(ch)
                self.i += 1
            elif ch == "{":
                start = self.i
                self.i += 1
                group = self._group(depth=depth + 1)
                if group is None:
                    # Never closed: the brace is text, and so is what follows it.
                    self.i = start + 1
                    literal.append("{")
                    continue
                if literal:
                    nodes.append("".join(literal))
                    literal = []
                nodes.append(group)
            elif in_group and ch in "|}":
                if literal:
                    nodes.append("".join(literal))
                return tuple(nodes), ch
            else:
                literal.append(ch)
                self.i += 1
        if literal:
            nodes.append("".join(literal))
        return tuple(nodes), ""

    def _group(self, *, depth: int) -> Spin | Braced | None:
        if depth > MAX_SPIN_DEPTH:
            raise ValidationFailed(
                f"Spintax may nest at most {MAX_SPIN_DEPTH} levels deep.", code=TemplateError.TOO_DEEP
            )
        options: list[tuple[Node, ...]] = []
        saved_fields = len(self.fields)
        while True:
            nodes, stop = self._sequence(depth=depth, in_group=True)
            options.append(nodes)
            if stop == "|":
                self.i += 1
                continue
            if stop == "}":
                self.i += 1
                break
            # End of text without "}": not a group after all.
            del self.fields[saved_fields:]
            return None
        if len(options) == 1:
            return Braced(options[0])
        return Spin(tuple(options))

    def _field(self, inner: str, source: str) -> Field:
        name, bar, fallback = inner.partition("|")
        key = name.strip()
        if key.startswith(CUSTOM_PREFIX):
            key = CUSTOM_PREFIX + key[len(CUSTOM_PREFIX) :].strip()
        field = Field(key=key, fallback=fallback.strip() if bar else "", source=source)
        self.fields.append(field)
        return field


def is_known_field(key: str) -> bool:
    if key in STANDARD_FIELDS:
        return True
    return key.startswith(CUSTOM_PREFIX) and bool(_CUSTOM_KEY.match(key[len(CUSTOM_PREFIX) :]))


# --- compiled templates --------------------------------------------------------------------------


class _Choices:
    """The per-recipient source of spintax choices: a 64-bit LCG from the seed, so the k-th
    choice of a recipient is the same in every process and on every render."""

    __slots__ = ("state",)

    def __init__(self, seed: int):
        self.state = seed & _MASK64

    def __call__(self, n: int) -> int:
        self.state = (self.state * _LCG_MULTIPLIER + _LCG_INCREMENT) & _MASK64
        return (self.state >> 33) % n


@dataclass(frozen=True)
class CompiledTemplate:
    source: str
    nodes: tuple[Node, ...]
    # Distinct field keys in first-use order: the value tuple handed to render() follows it.
    fields: tuple[str, ...]
    has_spintax: bool
    _render: Callable[[Sequence[str | None], Any], str]

    def render(self, values: Sequence[str | None], seed: int = 0) -> str:
        """The text for one recipient: `values[i]` is the (trimmed, None when empty) value of
        `fields[i]`; `seed` picks the spintax options."""
        return self._render(values, _Choices(seed) if self.has_spintax else None)

    def render_contact(self, contact: Mapping[str, Any], seed: int = 0) -> str:
        """Render from a mapping like {"name": ..., "phone": ..., "custom": {...}} (previews)."""
        return self.render(values_from_mapping(self.fields, contact), seed)

    @property
    def is_static(self) -> bool:
        return not self.fields and not self.has_spintax


def _codegen(nodes: tuple[Node, ...], index: dict[str, int]) -> str:
    """A Python expression for `nodes` over `v` (the values) and `r` (the choices)."""
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(repr(node))
        elif isinstance(node, Field):
            parts.append(f"(v[{index[node.key]}] or {node.fallback!r})")
        elif isinstance(node, Braced):
            parts.append(f"('{{' + {_codegen(node.children, index)} + '}}')")
        else:
            options = [_codegen(option, index) for option in node.options]
            # A tuple of zero-argument lambdas: only the chosen option is evaluated, so nested
            # spintax consumes choices only along the path taken.
            lambdas = ", ".join(f"lambda: {code}" for code in options)
            parts.append(f"(({lambdas},)[r({len(options)})]())")
    if not parts:
        return "''"
    return " + ".join(parts)


def _has_spin(nodes: tuple[Node, ...]) -> bool:
    for node in nodes:
        if isinstance(node, Spin):
            return True
        if isinstance(node, Braced) and _has_spin(node.children):
            return True
    return False


def _parse(body: str) -> tuple[tuple[Node, ...], list[Field]]:
    parser = _Parser(body)
    nodes = parser.parse()
    return nodes, parser.fields


def template_validate(body: str) -> list[Field]:
    """Check a template before anything is saved or sent: not empty, within WhatsApp's length,
    and every placeholder known. Raises ValidationFailed (code unknown_placeholder, listing each
    unknown one) or returns the placeholders used."""
    if not (body or "").strip():
        raise ValidationFailed("The message text is empty.", code=TemplateError.EMPTY)
    if len(body) > MAX_TEMPLATE_CHARS:
        raise ValidationFailed(f"Messages are limited to {MAX_TEMPLATE_CHARS} characters.", code=TemplateError.TOO_LONG)
    _, fields = _parse(body)
    unknown = list(dict.fromkeys(field.source for field in fields if not is_known_field(field.key)))
    if unknown:
        allowed = ", ".join("{{" + name + "}}" for name in STANDARD_FIELDS)
        raise ValidationFailed(
            f"Unknown placeholder{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Use {allowed} or {{{{custom.<field>}}}}.",
            code=TemplateError.UNKNOWN_PLACEHOLDER,
            details={"unknown": unknown, "allowed": [*STANDARD_FIELDS, "custom.<field>"]},
        )
    return fields


@lru_cache(maxsize=256)
def template_compile(body: str) -> CompiledTemplate:
    """Validate and compile a template (cached by its text)."""
    fields = template_validate(body)
    nodes, _ = _parse(body)
    keys = tuple(dict.fromkeys(field.key for field in fields))
    index = {key: i for i, key in enumerate(keys)}
    code = f"lambda v, r: {_codegen(nodes, index)}"
    render = eval(compile(code, "<template>", "eval"), {"__builtins__": {}})  # noqa: S307 - see module docstring
    return CompiledTemplate(source=body, nodes=nodes, fields=keys, has_spintax=_has_spin(nodes), _render=render)


def recipient_seed(campaign_id: int, phone: str) -> int:
    """The spintax seed of one recipient of one campaign: stable across runs, resumes and
    processes (crc32, not Python's randomised hash())."""
    return zlib.crc32(phone.encode(), campaign_id & 0xFFFFFFFF)


# --- values --------------------------------------------------------------------------------------


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def values_from_mapping(fields: Sequence[str], contact: Mapping[str, Any]) -> tuple[str | None, ...]:
    """Values for `fields` from {"name", "phone", "email", "language", "custom": {...}} (custom
    fields may also be given as "custom_fields")."""
    custom = contact.get("custom") or contact.get("custom_fields") or {}
    values: list[str | None] = []
    for key in fields:
        if key.startswith(CUSTOM_PREFIX):
            values.append(_clean(custom.get(key[len(CUSTOM_PREFIX) :])))
        elif key == "first_name":
            name = _clean(contact.get("name"))
            values.append(name.split()[0] if name else None)
        else:
            values.append(_clean(contact.get(key)))
    return tuple(values)


def field_sql(key: str, alias: str = "c") -> tuple[str, list[str]]:
    """The SQL expression (and its parameters) selecting `key` of contact `alias`, trimmed, NULL
    when empty: exactly what render() expects."""
    if key.startswith(CUSTOM_PREFIX):
        return f"NULLIF(btrim({alias}.custom_fields ->> %s), '')", [key[len(CUSTOM_PREFIX) :]]
    if key == "first_name":
        return f"NULLIF(split_part(btrim({alias}.name), ' ', 1), '')", []
    if key in STANDARD_FIELDS:
        return f"NULLIF(btrim({alias}.{key}), '')", []
    raise ValueError(key)
