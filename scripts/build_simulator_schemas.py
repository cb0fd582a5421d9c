"""Builds the simulators' request tables from the providers' published OpenAPI specs.

Reads ``../shared/providers`` (next to the repository; ``--shared DIR`` for another place):
Stripe's ``stripe/spec3.json`` and Adyen's ``adyen/CheckoutService-v71.json`` and ``-v72.json``,
and writes two checked-in modules of data, ``src/paygate/testing/stripe/_schema.py`` and
``src/paygate/testing/adyen/_schema.py``: for each request the simulators serve, the tree of
parameters it takes, with each leaf's type, enum, minLength/maxLength, minimum/maximum and which
fields are required, in the vocabulary of ``paygate.testing._validation``. Nothing reads the
specs at run time.

    python scripts/build_simulator_schemas.py           # rewrite the tables
    python scripts/build_simulator_schemas.py --check   # fail when they differ from the specs

``--check`` regenerates in memory and exits 1 when a checked-in table differs; without the
specs (a fresh clone has no ``../shared``) it says so and exits 0.

Endpoints. Stripe: ``POST /v1/payment_intents``, ``.../{intent}/capture``, ``.../{intent}/cancel``,
``POST /v1/refunds`` (form bodies) and the query strings of ``GET /v1/payment_intents/{intent}``,
``GET /v1/payment_intents/search``, ``GET /v1/refunds/{refund}`` and
``GET /v1/balance_transactions`` (settlement reconciliation's API path); ``.../confirm`` is left out
because the simulator does not serve it. Adyen, for each of v71 and v72 (the simulator serves
both): ``/payments``, ``/payments/details`` and the ``captures``, ``cancels``, ``refunds`` and
``reversals`` of ``/payments/{paymentPspReference}``.

How the specs' constructs become tables:

- ``$ref`` is resolved. Each Adyen component becomes one module constant named after it (its
  name is what Adyen's "Structure of <name> contains the following unknown fields" names); any
  other subtree that occurs twice is written once too, so v72 shares every schema v71 has alike.
- Stripe's ``anyOf: [X, {"enum": [""]}]`` is Stripe's way to let a parameter be unset by posting
  an empty string: the table keeps X, marked ``unset=True``, and the validator takes ``""``
  there. Elsewhere an empty string is taken only where it is itself a valid value (a string
  without an enum or a minLength, or an enum that lists ``""``); anywhere else Stripe answers
  ``parameter_invalid_empty``. Another ``anyOf`` of scalars (``off_session``: a boolean, or
  ``one_off`` / ``recurring``) becomes ``AnyOf``.
- An enum marked ``x-stripeBypassValidation`` is not enforced: Stripe takes values beyond the
  list there (``payment_method_data[type]=card`` is one; ``card`` is not listed). The
  simulator's own code still checks ``cancellation_reason``, one of them, as it did before.
- A Stripe object with ``properties`` is closed even where the spec leaves
  ``additionalProperties`` out: Stripe answers ``parameter_unknown`` for any key it does not
  know, at any depth. ``additionalProperties`` with a schema (metadata) is a ``Map``.
- Adyen's one ``oneOf`` (``paymentMethod``) becomes ``OneOf`` on its ``type`` field: each
  branch's ``type`` enum names the branch; a value listed by two branches stops the build.
- Adyen's ``x-anyOf`` on ``additionalData`` is documentation: the map of strings is what is read.
- ``format`` int32 / int64 bounds an integer (a wider one cannot be read); other formats
  (date-time, unix-time, byte...) are not checked. ``nullable`` needs nothing: the validator
  reads JSON null as a field not given. Deprecated fields stay: they are still accepted.
- Anything else the build does not know (``allOf``, ``pattern``, an ``anyOf`` of objects...)
  stops it with the path, rather than being skipped silently.

Overrides, written into the tables with their reasons: ``NOT_ENFORCED`` lists spec-required
fields the simulator does not require, ``BEYOND_SPEC`` what it takes that the spec leaves out,
``NARROWED`` the one form it takes of a parameter the spec offers in several.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
SHARED: Final = ROOT.parent / "shared" / "providers"
STRIPE_TABLE: Final = ROOT / "src" / "paygate" / "testing" / "stripe" / "_schema.py"
ADYEN_TABLE: Final = ROOT / "src" / "paygate" / "testing" / "adyen" / "_schema.py"
REGENERATE: Final = "python scripts/build_simulator_schemas.py"

STRIPE_SPEC: Final = "stripe/spec3.json"
# (table key: the method and the spec's path, its constant's name)
STRIPE_ENDPOINTS: Final = (
    ("POST /v1/payment_intents", "_CREATE_INTENT"),
    ("POST /v1/payment_intents/{intent}/capture", "_CAPTURE_INTENT"),
    ("POST /v1/payment_intents/{intent}/cancel", "_CANCEL_INTENT"),
    ("POST /v1/refunds", "_CREATE_REFUND"),
    ("GET /v1/payment_intents/{intent}", "_RETRIEVE_INTENT"),
    ("GET /v1/payment_intents/search", "_SEARCH_INTENTS"),
    ("GET /v1/refunds/{refund}", "_RETRIEVE_REFUND"),
    ("GET /v1/balance_transactions", "_LIST_BALANCE_TRANSACTIONS"),
)
ADYEN_VERSIONS: Final = ("71", "72")
ADYEN_ENDPOINTS: Final = (
    "/payments",
    "/payments/details",
    "/payments/{paymentPspReference}/captures",
    "/payments/{paymentPspReference}/cancels",
    "/payments/{paymentPspReference}/refunds",
    "/payments/{paymentPspReference}/reversals",
)

# (schema, field) → why the simulator does not require what the spec requires.
NOT_ENFORCED: Final = {
    ("PaymentRequest", "returnUrl"): (
        "required only when the payment redirects the shopper (3-D Secure); paygate sends it "
        "only when one is configured, and requiring it on every payment would refuse every "
        "user without a return URL"
    ),
}
# What the simulator takes beyond the spec, and why.
BEYOND_SPEC: Final = {
    "POST /v1/payment_intents payment_method_data[card]": (
        "raw card data (number, exp_month, exp_year, cvc), the shape of POST "
        "/v1/payment_methods' card_details_params: Stripe takes it on a PaymentIntent for "
        "accounts with raw card data access, and paygate's PaymentSource.card sends it; the "
        "2023-08-16 spec leaves it out"
    ),
}

# Where the simulator takes one form of a parameter the spec offers several of, and why.
NARROWED: Final = {
    "GET /v1/balance_transactions created": (
        "the range form only (created[gte], created[lt], ...): Stripe also takes a bare "
        "timestamp, an anyOf of an object and an integer the validator's tables cannot hold; "
        "paygate's reconciliation asks for windows"
    ),
}

_IGNORED_KEYS: Final = frozenset(
    {"description", "title", "format", "default", "deprecated", "nullable", "example"}
    | {"examples", "readOnly", "writeOnly", "x-anyOf"}
)


class SchemaError(Exception):
    """A construct the build does not know how to read."""


# -- the intermediate form: hashable, so equal subtrees are found and written once ---------------
@dataclass(frozen=True)
class Ir:
    kind: str  # Str, Int, Num, Bool, Arr, Map, Obj, AnyOf, OneOf
    args: tuple[tuple[str, Any], ...]  # keyword arguments, in order, None left out
    # Obj fields, OneOf branches, AnyOf options, Arr / Map item
    children: tuple[tuple[str, Ir], ...] = ()
    # A name for its constant (the schema's, else the field it was met at); not compared.
    hint: str = field(default="", compare=False)


def _ir(kind: str, hint: str = "", children: tuple[tuple[str, Ir], ...] = (), **args: Any) -> Ir:
    kept = tuple((name, value) for name, value in args.items() if value is not None)
    return Ir(kind, kept, children, hint)


def _with_unset(node: Ir, unset: bool) -> Ir:
    if not unset:
        return node
    return Ir(node.kind, (*node.args, ("unset", True)), node.children, node.hint)


# -- Stripe ----------------------------------------------------------------------------------------
def stripe_tables(spec: Mapping[str, Any]) -> dict[str, Ir]:
    """Each endpoint's tree, by table key."""
    tables: dict[str, Ir] = {}
    for key, _ in STRIPE_ENDPOINTS:
        method, spec_path = key.lower().split(" ", 1)[0], key.split(" ", 1)[1]
        operation = spec["paths"][spec_path][method]
        if method == "get":
            tables[key] = _stripe_query(operation, key)
            continue
        body = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
        schema = copy.deepcopy(body["schema"])
        if spec_path == "/v1/payment_intents":
            schema["properties"]["payment_method_data"]["properties"]["card"] = _card_details(spec)
        tables[key] = _stripe(schema, key, "")
    return tables


def _card_details(spec: Mapping[str, Any]) -> Any:
    """POST /v1/payment_methods' ``card_details_params`` (see ``BEYOND_SPEC``)."""
    body = spec["paths"]["/v1/payment_methods"]["post"]["requestBody"]
    card = body["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]["card"]
    (details,) = (o for o in card["anyOf"] if o.get("title") == "card_details_params")
    return details


def _stripe_query(operation: Mapping[str, Any], where: str) -> Ir:
    fields: list[tuple[str, Ir]] = []
    required: list[str] = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "query":
            continue
        name = parameter["name"]
        fields.append((name, _stripe(parameter["schema"], f"{where} {name}", name)))
        if parameter.get("required"):
            required.append(name)
    return _obj(fields, required, None)


def _stripe(schema: Mapping[str, Any], where: str, hint: str) -> Ir:
    if "anyOf" in schema:
        empty = {"enum": [""], "type": "string"}
        options = [o for o in schema["anyOf"] if o != empty]
        unset = len(options) < len(schema["anyOf"])
        converted = [_stripe(option, where, hint) for option in options]
        if where in NARROWED:
            converted = [node for node in converted if node.kind == "Obj"]
        if len(converted) == 1:
            return _with_unset(converted[0], unset)
        if any(node.kind in {"Obj", "Map", "Arr", "AnyOf", "OneOf"} for node in converted):
            raise SchemaError(f"{where}: an anyOf of objects or arrays")
        options_ir = tuple((str(index), node) for index, node in enumerate(converted))
        return _with_unset(_ir("AnyOf", hint, options_ir), unset)
    _known(schema, where, {"type", "properties", "additionalProperties", "items", "required"})
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is None and isinstance(extra, Mapping):
            return _ir("Map", hint, (("values", _stripe(extra, f"{where}[*]", hint)),))
        if properties is None or isinstance(extra, Mapping):
            raise SchemaError(f"{where}: an object of neither known nor free keys")
        fields = [
            (name, _stripe(child, f"{where}[{name}]", name))
            for name, child in sorted(properties.items())
        ]
        return _obj(fields, schema.get("required", ()), None, schema.get("title") or hint)
    if kind == "array":
        return _ir("Arr", hint, (("items", _stripe(schema["items"], f"{where}[]", hint)),))
    bypass = bool(schema.get("x-stripeBypassValidation"))
    return _scalar(schema, where, hint, enum=None if bypass else schema.get("enum"))


# -- Adyen -----------------------------------------------------------------------------------------
def adyen_tables(spec: Mapping[str, Any], label: str = "") -> dict[str, Ir]:
    """Each endpoint's tree, by path; ``label`` ends the names of its constants."""
    schemas = spec["components"]["schemas"]

    def resolve(schema: Mapping[str, Any], where: str, hint: str) -> Ir:
        ref = schema.get("$ref")
        if ref is not None:
            name = ref.rpartition("/")[2]
            return convert(schemas[name], name, name + label)
        return convert(schema, where, hint)

    def convert(schema: Mapping[str, Any], where: str, hint: str) -> Ir:
        if "oneOf" in schema:
            return one_of(schema["oneOf"], where, hint)
        _known(schema, where, {"type", "properties", "additionalProperties", "items", "required"})
        kind = schema.get("type")
        if kind == "object":
            properties = schema.get("properties")
            extra = schema.get("additionalProperties")
            if properties is None and isinstance(extra, Mapping):
                return _ir("Map", hint, (("values", resolve(extra, f"{where}.*", hint)),))
            if properties is None or extra is not False:
                raise SchemaError(f"{where}: an object of neither known nor free keys")
            required = [
                name for name in schema.get("required", ()) if (where, name) not in NOT_ENFORCED
            ]
            fields = [
                (name, resolve(child, f"{where}.{name}", name + label))
                for name, child in sorted(properties.items())
            ]
            return _obj(fields, required, where if where in schemas else None, hint)
        if kind == "array":
            return _ir("Arr", hint, (("items", resolve(schema["items"], f"{where}[]", hint)),))
        return _scalar(schema, where, hint, enum=schema.get("enum"))

    def one_of(options: list[Mapping[str, Any]], where: str, hint: str) -> Ir:
        branches: list[tuple[str, Ir]] = []
        named: set[str] = set()
        for option in options:
            branch = resolve(option, where, hint)
            kind = dict(branch.children).get("type")
            enum = None if kind is None else dict(kind.args).get("enum")
            if branch.kind != "Obj" or enum is None:
                raise SchemaError(f"{where}: a oneOf branch without a type enum")
            if named & set(enum):
                raise SchemaError(f"{where}: types {sorted(named & set(enum))} name two branches")
            named |= set(enum)
            branches.append((str(len(branches)), branch))
        return _ir("OneOf", hint, tuple(branches), key="type")

    tables: dict[str, Ir] = {}
    for path in ADYEN_ENDPOINTS:
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        tables[path] = resolve(body["schema"], path, "")
    return tables


# -- both ------------------------------------------------------------------------------------------
def _known(schema: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    allowed = allowed | {"enum", "minLength", "maxLength", "minimum", "maximum"}
    for key in schema:
        if key not in allowed and key not in _IGNORED_KEYS and not key.startswith("x-"):
            raise SchemaError(f"{where}: {key!r} is not read by this build")


def _obj(fields: list[tuple[str, Ir]], required: Any, name: str | None, hint: str = "") -> Ir:
    known = {field for field, _ in fields}
    missing = [field for field in required if field not in known]
    if missing:
        raise SchemaError(f"{name or hint}: required {missing} are not among its fields")
    return _ir("Obj", hint, tuple(fields), required=tuple(required) or None, name=name)


def _scalar(schema: Mapping[str, Any], where: str, hint: str, enum: Any) -> Ir:
    kind = schema.get("type")
    shared: dict[str, Any] = {"minimum": schema.get("minimum"), "maximum": schema.get("maximum")}
    if kind == "string":
        if "minimum" in schema or "maximum" in schema:
            raise SchemaError(f"{where}: bounds on a string")
        return _ir(
            "Str",
            hint if enum else "",
            min_length=schema.get("minLength"),
            max_length=schema.get("maxLength"),
            enum=None if enum is None else tuple(enum),
        )
    if enum is not None or "minLength" in schema or "maxLength" in schema:
        raise SchemaError(f"{where}: an enum or a length on a {kind}")
    if kind == "integer":
        bits = {"int32": 32, "int64": 64}.get(schema.get("format", ""))
        return _ir("Int", **shared, bits=bits)
    if kind == "number":
        return _ir("Num", **shared)
    if kind == "boolean" and shared == {"minimum": None, "maximum": None}:
        return _ir("Bool")
    raise SchemaError(f"{where}: type {kind!r} is not read by this build")


# -- writing a module ------------------------------------------------------------------------------
_INDENT: Final = "    "
_WIDTH: Final = 100


class Writer:
    """Python source for a set of trees: a subtree met twice (or a named Adyen component) is
    a module constant, written before its first use; the rest is written in place, laid out as
    ``ruff format`` lays it out (on one line when it fits, else one item a line with a trailing
    comma)."""

    def __init__(self, roots: Mapping[str, Ir], force: Callable[[Ir], bool]) -> None:
        counts: Counter[Ir] = Counter()
        for node in roots.values():
            for child in _expanded(node):
                counts[child] += 1
        hoisted = {node for node, count in counts.items() if count > 1 or force(node)}
        # A node met twice only inside one hoisted parent is written once after all.
        textual: Counter[Ir] = Counter()
        seen: set[Ir] = set()

        def visit(node: Ir) -> None:
            textual[node] += 1
            if node in hoisted and node in seen:
                return
            seen.add(node)
            for _, child in node.children:
                visit(child)

        for node in roots.values():
            visit(node)
        self._hoisted = {node for node in hoisted if textual[node] > 1 or force(node)}
        self._names: dict[Ir, str] = {}
        self._taken: set[str] = set()
        self.constants: list[str] = []

    def constant(self, node: Ir, name: str) -> str:
        """``name = <node>`` as module lines (a root's constant); returns ``name``."""
        self._taken.add(name)
        self.constants.append(f"{name} = {self._call(node, 0, len(name) + 3)}")
        return name

    def reference(self, node: Ir, used: int) -> str:
        """``node`` where ``used`` columns of its line are taken by what surrounds it."""
        return self._expression(node, 0, used)

    def _expression(self, node: Ir, depth: int, used: int) -> str:
        if node not in self._hoisted:
            return self._call(node, depth, used)
        name = self._names.get(node)
        if name is None:
            name = self._name_for(node)
            self._names[node] = name
            self.constants.append(f"{name} = {self._call(node, 0, len(name) + 3)}")
        return name

    def _call(self, node: Ir, depth: int, used: int) -> str:
        """``Kind(...)``; ``used``: columns its first line shares with what is around it."""
        inner = len(_INDENT) * (depth + 1) + 1  # an item on its own line, and its comma
        args: list[str] = []
        if node.kind == "OneOf":
            args.append(json.dumps(dict(node.args)["key"]))
            branches = [self._expression(child, depth + 2, inner + 4) for _, child in node.children]
            args.append(_wrapped("(", branches, ")", depth + 1, inner, explode=True))
        elif node.kind == "Obj":
            entries = [
                f"{json.dumps(key)}: "
                + self._expression(child, depth + 2, inner + len(_INDENT) + len(key) + 4)
                for key, child in node.children
            ]
            args.append(_wrapped("{", entries, "}", depth + 1, inner, explode=True))
        elif node.kind in {"Arr", "Map"}:
            args.append(self._expression(node.children[0][1], depth + 1, inner))
        elif node.kind == "AnyOf":
            options = [self._expression(child, depth + 2, inner + 4) for _, child in node.children]
            args.append(f"options={_wrapped('(', options, ')', depth + 1, inner + 8)}")
        for name, value in node.args:
            if name == "key":
                continue
            if isinstance(value, tuple):
                items = [json.dumps(item) for item in value]
                closing = ",)" if len(items) == 1 else ")"
                rendered = _wrapped("(", items, closing, depth + 1, inner + len(name) + 1)
            else:
                rendered = json.dumps(value) if isinstance(value, str) else repr(value)
            args.append(f"{name}={rendered}")
        return _wrapped(f"{node.kind}(", args, ")", depth, used)

    def _name_for(self, node: Ir) -> str:
        args = dict(node.args)
        if node.kind in {"Str", "Int", "Num", "Bool"} and "enum" not in args:
            shown = "".join(f"_{_snake(k)}_{v}" for k, v in node.args if k != "unset")
            base = node.kind.upper() + shown.replace("MIN_LENGTH", "MIN").replace(
                "MAX_LENGTH", "MAX"
            )
        else:
            base = _snake(node.hint or node.kind)
        if args.get("unset"):
            base += "_OR_UNSET"
        name, number = f"_{base}", 1
        while name in self._taken:
            number += 1
            name = f"_{base}_{number}"
        self._taken.add(name)
        return name


def _expanded(node: Ir) -> Iterator[Ir]:
    yield node
    for _, child in node.children:
        yield from _expanded(child)


def _snake(text: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").upper()


def _wrapped(
    opening: str, items: list[str], closing: str, depth: int, used: int, *, explode: bool = False
) -> str:
    """``opening items closing`` on one line when it fits in ``_WIDTH`` with the ``used``
    columns around it (and ``explode`` does not ask otherwise), else one item a line with a
    trailing comma, which ``ruff format`` keeps as it is."""
    if not items:
        return f"{opening}{closing.lstrip(',')}"
    one_line = f"{opening}{', '.join(items)}{closing}"
    if not explode and "\n" not in one_line and used + len(one_line) <= _WIDTH:
        return one_line
    inner = _INDENT * (depth + 1)
    closing = ")" if closing == ",)" else closing
    body = "".join(f"{inner}{item},\n" for item in items)
    return f"{opening}\n{body}{_INDENT * depth}{closing}"


def _module(doc: str, imports: list[str], writer: Writer, tail: list[str]) -> str:
    names = ", ".join(sorted(imports))
    lines = [
        f'"""{doc}"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from typing import Final",
        "",
        f"from paygate.testing._validation import {names}",
        "",
        *writer.constants,
        "",
        *tail,
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _used_kinds(roots: Mapping[str, Ir]) -> list[str]:
    return sorted({node.kind for root in roots.values() for node in _expanded(root)} | {"Obj"})


def _notes(name: str, notes: Mapping[Any, str]) -> list[str]:
    lines = [f"{name}: Final[Mapping[str, str]] = {{"]
    for key, reason in notes.items():
        label = " ".join(key) if isinstance(key, tuple) else key
        lines.append(f"    {json.dumps(label)}: (")
        lines.extend(f"        {json.dumps(part)}" for part in _chunks(reason, 80))
        lines.append("    ),")
    return [*lines, "}"]


def _chunks(text: str, width: int) -> list[str]:
    words, lines, line = text.split(" "), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line + " ")
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def render_stripe(shared: Path) -> str:
    source = shared / STRIPE_SPEC
    spec = json.loads(source.read_text())
    roots = stripe_tables(spec)
    writer = Writer(roots, force=lambda node: False)
    keys = {key: writer.constant(roots[key], name) for key, name in STRIPE_ENDPOINTS}
    doc = (
        "Stripe's request parameters, as the simulator checks them: GENERATED by\n"
        "scripts/build_simulator_schemas.py from Stripe's published OpenAPI spec,\n"
        f"../shared/providers/{STRIPE_SPEC} (API version {spec['info']['version']}, sha256 "
        f"{_digest(source)}...).\nDo not edit; regenerate with ``{REGENERATE}``\n"
        "(``--check`` fails while this differs from the spec). The vocabulary is\n"
        "``paygate.testing._validation``'s; the build's docstring says how the spec's constructs\n"
        "are read.\n"
    )
    tail = [
        f"API_VERSION: Final = {json.dumps(spec['info']['version'])}",
        "",
        "# Each endpoint's parameters: the form body of a POST, the query string of a GET.",
        "REQUESTS: Final[Mapping[str, Obj]] = {",
        *(f"    {json.dumps(key)}: {name}," for key, name in keys.items()),
        "}",
        "",
        "# Taken beyond the spec, and why.",
        *_notes("BEYOND_SPEC", BEYOND_SPEC),
        "",
        "# Taken in one of the forms the spec offers, and why.",
        *_notes("NARROWED", NARROWED),
    ]
    return _module(doc, _used_kinds(roots), writer, tail)


def render_adyen(shared: Path) -> str:
    versions: dict[str, dict[str, Ir]] = {}
    sources: list[str] = []
    for version in ADYEN_VERSIONS:
        source = shared / "adyen" / f"CheckoutService-v{version}.json"
        spec = json.loads(source.read_text())
        if spec["info"]["version"] != version:
            raise SchemaError(f"{source.name} is version {spec['info']['version']}")
        label = "" if version == ADYEN_VERSIONS[0] else f" v{version}"
        versions[version] = adyen_tables(spec, label)
        sources.append(f"../shared/providers/adyen/{source.name} (sha256 {_digest(source)}...)")
    roots = {f"{v} {path}": node for v, tables in versions.items() for path, node in tables.items()}
    writer = Writer(
        roots, force=lambda node: bool(node.kind == "Obj" and dict(node.args).get("name"))
    )
    table: list[str] = []
    for version, tables in versions.items():
        table.append(f"    {json.dumps(version)}: {{")
        table.extend(
            f"        {json.dumps(path)}: {writer.reference(node, 10 + len(path) + 3)},"
            for path, node in tables.items()
        )
        table.append("    },")
    doc = (
        "Adyen's Checkout request bodies, as the simulator checks them: GENERATED by\n"
        "scripts/build_simulator_schemas.py from Adyen's published OpenAPI specs,\n"
        + "".join(f"{line},\n" for line in sources)
        + "API versions 71 and 72.\n"
        f"Do not edit; regenerate with ``{REGENERATE}``\n"
        "(``--check`` fails while this differs from the specs). The vocabulary is\n"
        "``paygate.testing._validation``'s; the build's docstring says how the spec's constructs\n"
        "are read.\n"
    )
    tail = [
        "# Each version's request bodies, by path.",
        "REQUESTS: Final[Mapping[str, Mapping[str, Obj]]] = {",
        *table,
        "}",
        "",
        "# Required by the spec, not by the simulator, and why.",
        *_notes("NOT_ENFORCED", NOT_ENFORCED),
    ]
    return _module(doc, _used_kinds(roots), writer, tail)


def rendered(shared: Path) -> dict[Path, str]:
    return {STRIPE_TABLE: render_stripe(shared), ADYEN_TABLE: render_adyen(shared)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="fail if the tables are stale")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the providers' specs")
    args = parser.parse_args(argv)
    if not (args.shared / STRIPE_SPEC).is_file():
        print(f"no specs at {args.shared}: nothing to build or check", file=sys.stderr)
        return 0
    stale = []
    for path, text in rendered(args.shared).items():
        if path.is_file() and path.read_text() == text:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)} ({len(text.splitlines())} lines)")
    if stale:
        print(f"stale: {', '.join(map(str, stale))}; run `{REGENERATE}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
