"""OData V2 system query options of the SAP MC simulator: the $filter grammar (comparisons,
and/or/not, string functions, typed literals), $orderby, $select, sorting by them, and the
checks of a call's options as a whole ($top, $skip, $skiptoken, $inlinecount, $expand)."""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from simulators.sapmc_metadata import REFERENCES, EdmProperty

# $filter: OData V2 boolean expressions ----------------------------------------------------------


class ODataQueryError(ValueError):
    """A system query option the simulator does not understand or support."""


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_FILTER_TOKEN = re.compile(
    r"""\s*(?:
        (?P<typed>(?P<kind>datetimeoffset|datetime|guid)'(?P<body>[^']*)')
      | '(?P<string>(?:[^']|'')*)'
      | (?P<paren>[(),])
      | (?P<number>[0-9]+)(?![A-Za-z_])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_DATETIME_LITERAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?")
# String functions of OData V2 (URI conventions 4.5): name -> (argument count, result type).
_FUNCTIONS: dict[str, tuple[int, str]] = {
    "substringof": (2, "Edm.Boolean"),
    "startswith": (2, "Edm.Boolean"),
    "endswith": (2, "Edm.Boolean"),
    "tolower": (1, "Edm.String"),
    "toupper": (1, "Edm.String"),
    "trim": (1, "Edm.String"),
    "length": (1, "Edm.Int32"),
}

Token = tuple[str, str, str]
Values = Mapping[str, Any]


def _constant(value: object) -> Callable[[Values], object]:
    """An operand's evaluate() for a literal: the same value for every row."""
    return lambda values: value


@dataclass(frozen=True)
class _Operand:
    """A typed value in a $filter: a property, a literal or a function call."""

    edm: str  # Edm.String, Edm.Guid, ..., Edm.Boolean, Edm.Int32, or "null"
    evaluate: Callable[[Values], Any]


def _call_function(name: str, args: list[Any]) -> Any:
    if any(a is None for a in args):
        return None  # OData: a function of null is null
    if name == "substringof":
        return args[0] in args[1]
    if name == "startswith":
        return args[0].startswith(args[1])
    if name == "endswith":
        return args[0].endswith(args[1])
    if name == "tolower":
        return args[0].lower()
    if name == "toupper":
        return args[0].upper()
    if name == "trim":
        return args[0].strip()
    return len(args[0])


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        # OData: null equals only null, and every ordering against null is false.
        if op == "eq":
            return left is None and right is None
        if op == "ne":
            return not (left is None and right is None)
        return False
    return _OPERATORS[op](left, right)


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        found = _FILTER_TOKEN.match(text, position)
        if found is None:
            raise ODataQueryError(f"Invalid token in $filter at position {position}")
        if found.group("typed"):
            tokens.append(("typed", found.group("kind"), found.group("body")))
        elif found.group("string") is not None:
            tokens.append(("string", "", found.group("string").replace("''", "'")))
        elif found.group("paren"):
            tokens.append(("paren", found.group("paren"), ""))
        elif found.group("number"):
            tokens.append(("number", found.group("number"), ""))
        else:
            tokens.append(("word", found.group("word"), ""))
        position = found.end()
    return tokens


def _literal(token: Token, edm: str) -> Any:
    """The value of a literal compared with a value of type edm."""
    kind, text, body = token
    if kind == "word" and text == "null":
        return None
    if edm == "Edm.String" and kind == "string":
        return body
    if edm == "Edm.Boolean" and kind == "word" and text in ("true", "false"):
        return text == "true"
    if edm == "Edm.Int32" and kind == "number" and len(text) < 10:
        return int(text)
    if edm == "Edm.Guid" and kind == "typed" and text == "guid":
        try:
            return str(uuid.UUID(body))
        except ValueError:
            raise ODataQueryError(f"Invalid guid literal '{body}'") from None
    if edm == "Edm.DateTime" and kind == "typed" and text == "datetime":
        if not _DATETIME_LITERAL.fullmatch(body):
            raise ODataQueryError(f"Invalid datetime literal '{body}'")
        return datetime.fromisoformat(body[:26]).replace(tzinfo=UTC)
    if edm == "Edm.DateTimeOffset" and kind == "typed" and text == "datetimeoffset":
        try:
            instant = datetime.fromisoformat(body)
        except ValueError:
            raise ODataQueryError(f"Invalid datetimeoffset literal '{body}'") from None
        if instant.tzinfo is None:
            raise ODataQueryError(f"datetimeoffset literal '{body}' has no offset")
        return instant.astimezone(UTC)
    shown = body if kind in ("typed", "string") else text
    raise ODataQueryError(f"Invalid literal '{shown}' for a value of type {edm}")


def _is_literal(token: Token | None) -> bool:
    if token is None:
        return False
    kind, text, _ = token
    return kind in ("typed", "string", "number") or (
        kind == "word" and text in ("null", "true", "false")
    )


def parse_filter(text: str, properties: Iterable[EdmProperty]) -> Callable[[Values], bool]:
    """Parse an OData V2 $filter into a predicate; anything unsupported is an ODataQueryError.

    Supported: eq ne gt ge lt le between a property (or a string function of one) and a literal,
    `and`, `or`, `not`, parentheses, substringof/startswith/endswith (bare or `eq true|false`),
    tolower/toupper/trim/length.
    """
    by_name = {p.name: p for p in properties}
    tokens = _tokens(text)
    position = 0

    def peek(offset: int = 0) -> Token | None:
        index = position + offset
        return tokens[index] if index < len(tokens) else None

    def take() -> Token:
        nonlocal position
        token = peek()
        if token is None:
            raise ODataQueryError("$filter ends too early")
        position += 1
        return token

    def expect(paren: str) -> None:
        if take() != ("paren", paren, ""):
            raise ODataQueryError(f"$filter: '{paren}' expected")

    def joined(
        word: str,
        parse_term: Callable[[], Callable[[Values], bool]],
        combine: Callable[[Iterable[bool]], bool],
    ) -> Callable[[Values], bool]:
        """Terms joined by `word` ("and", "or"), combined by all() or any(); one term alone."""
        terms = [parse_term()]
        while peek() == ("word", word, ""):
            take()
            terms.append(parse_term())
        if len(terms) == 1:
            return terms[0]
        return lambda values: combine(term(values) for term in terms)

    def or_expression() -> Callable[[Values], bool]:
        return joined("or", and_expression, any)

    def and_expression() -> Callable[[Values], bool]:
        return joined("and", unary, all)

    def unary() -> Callable[[Values], bool]:
        if peek() == ("word", "not", ""):
            take()
            inner = unary()
            return lambda values: not inner(values)
        if peek() == ("paren", "(", ""):
            take()
            inner = or_expression()
            expect(")")
            return inner
        return comparison()

    def operand() -> _Operand:
        kind, name, _ = take()
        if kind == "word" and name in _FUNCTIONS and peek() == ("paren", "(", ""):
            return function(name)
        if kind != "word" or name not in by_name:
            raise ODataQueryError(f"$filter on '{name}' is not supported")
        prop = by_name[name]
        if not prop.filterable:
            raise ODataQueryError(f"Property {name} is not filterable")
        return _Operand(prop.edm, lambda values: values[prop.name])

    def function(name: str) -> _Operand:
        arity, result = _FUNCTIONS[name]
        expect("(")
        args: list[_Operand] = []
        while True:
            if _is_literal(peek()):
                value = _literal(take(), "Edm.String")
                args.append(_Operand("Edm.String", _constant(value)))
            else:
                args.append(operand())
            if args[-1].edm != "Edm.String":
                raise ODataQueryError(f"{name}() takes strings, not {args[-1].edm}")
            if peek() != ("paren", ",", ""):
                break
            take()
        expect(")")
        if len(args) != arity:
            raise ODataQueryError(f"{name}() takes {arity} argument(s), got {len(args)}")
        return _Operand(
            result, lambda values: _call_function(name, [a.evaluate(values) for a in args])
        )

    def comparison() -> Callable[[Values], bool]:
        left = operand()
        following = peek()
        if following is None or following[0] != "word" or following[1] not in _OPERATORS:
            if left.edm == "Edm.Boolean":
                return lambda values: left.evaluate(values) is True
            shown = following[1] if following else "the end"
            raise ODataQueryError(f"$filter operator expected, got '{shown}'")
        op = take()[1]
        right = _literal(take(), left.edm)
        if left.edm == "Edm.Boolean" and op not in ("eq", "ne"):
            raise ODataQueryError(f"$filter operator '{op}' does not apply to a boolean")
        return lambda values: _compare(op, left.evaluate(values), right)

    predicate = or_expression()
    if position != len(tokens):
        raise ODataQueryError(f"$filter: unsupported expression at '{tokens[position][1]}'")
    return predicate


def parse_orderby(text: str, properties: Iterable[EdmProperty]) -> list[tuple[str, bool]]:
    """Parse `A, B desc` into [(name, descending)]."""
    by_name = {p.name for p in properties}
    order: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataQueryError(f"Invalid $orderby clause '{part.strip()}'")
        if words[0] not in by_name:
            raise ODataQueryError(f"Property '{words[0]}' cannot be used in $orderby")
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    return order


def parse_select(
    text: str, properties: Iterable[EdmProperty], navigation: Iterable[str]
) -> frozenset[str] | None:
    """Parse `A,B,Nav` into the names to send; None for every property (`*` or nothing)."""
    names = {p.name for p in properties} | set(navigation)
    wanted = {part.strip() for part in text.split(",")}
    if "*" in wanted:
        return None
    unknown = sorted(wanted - names)
    if unknown:
        raise ODataQueryError(f"Property '{unknown[0]}' cannot be selected")
    return frozenset(wanted)


def sort_items(
    items: list[Any], values: Callable[[Any], Values], order: list[tuple[str, bool]]
) -> None:
    # Stable sorts from the last key to the first; null sorts before every value (OData V2).
    for name, descending in reversed(order):
        items.sort(
            key=lambda item: (values(item)[name] is not None, values(item)[name] or ""),
            reverse=descending,
        )


# All system query options of one call ----------------------------------------------------------

_SUPPORTED_OPTIONS = frozenset(
    {
        "$format",
        "$filter",
        "$top",
        "$skip",
        "$skiptoken",
        "$inlinecount",
        "$expand",
        "$select",
        "$orderby",
    }
)


@dataclass(frozen=True)
class QueryOptions:
    predicate: Callable[[Values], bool] | None
    top: int | None
    skip: int
    token: int
    inlinecount: bool
    expand: bool
    select: frozenset[str] | None  # None: every property
    orderby: list[tuple[str, bool]]


def parse_options(
    query: Mapping[str, str],
    *,
    single: bool,
    properties: tuple[EdmProperty, ...],
    navigation: tuple[str, ...],
) -> QueryOptions:
    """Check and parse the system query options of a listing, or of one entity (single)."""
    for name in query:
        if name.startswith("$") and name not in _SUPPORTED_OPTIONS:
            raise ODataQueryError(f"System query option '{name}' is not supported")
    if single:
        for name in ("$filter", "$top", "$skip", "$skiptoken", "$inlinecount", "$orderby"):
            if name in query:
                raise ODataQueryError(f"System query option '{name}' is not allowed here")
    expand = query.get("$expand", "").strip()
    if expand and expand not in navigation:
        raise ODataQueryError(f"Navigation property '{expand}' cannot be expanded")
    if expand and expand != REFERENCES:
        raise ODataQueryError(f"The simulator does not serve '{expand}'")
    inlinecount = query.get("$inlinecount", "none")
    if inlinecount not in ("allpages", "none"):
        raise ODataQueryError(f"Invalid value '{inlinecount}' of $inlinecount")
    text = query.get("$filter", "").strip()
    select = query.get("$select", "").strip()
    orderby = query.get("$orderby", "").strip()
    return QueryOptions(
        predicate=parse_filter(text, properties) if text else None,
        top=_count_option(query, "$top"),
        skip=_count_option(query, "$skip") or 0,
        token=_count_option(query, "$skiptoken") or 0,
        inlinecount=inlinecount == "allpages",
        expand=bool(expand),
        select=parse_select(select, properties, navigation) if select else None,
        orderby=parse_orderby(orderby, properties) if orderby else [],
    )


def _count_option(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise ODataQueryError(f"Invalid value '{raw}' of {name}: a whole number is expected")
    return int(raw)
