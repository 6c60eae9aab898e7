"""Offline type check of Bicep files against Azure's generated resource type definitions.

The Bicep compiler checks templates against the type definitions generated from the Azure REST
API specifications (the public repository Azure/bicep-types-az). The compiler downloads a binary,
so this module reads the same definitions (a trimmed copy in ``tests/data/bicep-types``) and the
templates (tree-sitter-bicep) itself and checks what the compiler would reject or warn about:

- every resource type and API version exists, also for ``existing`` references and nested
  child resources;
- every property set in a resource body exists on its type, spelled with the same case, is not
  read-only, and every required property is set (resources that are created, not ``existing``);
- literal values match the property's type: strings, integers (with their ranges), booleans,
  objects, arrays; enum values (closed enums exactly; open enums when they differ from a known
  value only in case); string length limits and patterns; discriminated objects by their
  discriminator;
- parameters used as values: their ``@allowed`` values, ``@minValue``/``@maxValue`` range and
  declared type fit the property;
- every property read (``app.properties.defaultHostName``, ``storage::blobService.id``,
  ``listKeys(...).functionKeys.default``) exists on the resource's (or function's) type;
- modules: their ``params`` are parameters the module declares (and every required one is
  given), their ``outputs.X`` are outputs it declares.

    python -m tests.bicep_typecheck check infra/main.bicep   # prints findings, exit 1 if any
    python -m tests.bicep_typecheck trim infra <upstream types.json> ...   # refresh the data
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

TYPES_DIR = Path(__file__).resolve().parent / "data" / "bicep-types"

FLAG_REQUIRED = 1
FLAG_READ_ONLY = 2

# Keys of a resource body that are Bicep's own, not properties of the resource type.
BICEP_RESOURCE_KEYWORDS = {"parent", "scope", "dependsOn"}
# Keys of a module body; `params` is checked against the module's parameter declarations.
MODULE_KEYWORDS = {"name", "params", "scope", "dependsOn"}

Json = dict[str, Any]


# --- the type definitions ------------------------------------------------------------------


@dataclass(frozen=True)
class TypeRef:
    """One entry of one types file (``{"$ref": "#/12"}`` resolved against its file)."""

    file: str
    index: int


class TypeLibrary:
    """Resource types and resource functions (``listKeys``) of the type files in a folder."""

    def __init__(self, folder: Path = TYPES_DIR) -> None:
        self._tables: dict[str, list[Json]] = {}
        self._resources: dict[tuple[str, str], TypeRef] = {}
        self._functions: dict[tuple[str, str, str], TypeRef] = {}
        for path in sorted(folder.glob("*.json")):
            table: list[Json] = json.loads(path.read_text())
            self._tables[path.name] = table
            for entry in table:
                if entry["$type"] == "ResourceType":
                    name, _, version = entry["name"].partition("@")
                    # ARM resource type names are case-insensitive; API versions are not.
                    self._resources[(name.lower(), version)] = self.ref(path.name, entry["body"])
                elif entry["$type"] == "ResourceFunctionType":
                    key = (entry["name"].lower(), entry["resourceType"].lower())
                    self._functions[(*key, entry["apiVersion"])] = self.ref(
                        path.name, entry["output"]
                    )
        if not self._resources:
            raise FileNotFoundError(f"no type definitions in {folder}")

    @staticmethod
    def ref(file: str, reference: Json) -> TypeRef:
        pointer = reference["$ref"]
        assert pointer.startswith("#/"), f"only local references are supported: {pointer}"
        return TypeRef(file, int(pointer[2:]))

    def get(self, ref: TypeRef) -> Json:
        return self._tables[ref.file][ref.index]

    def child(self, ref: TypeRef, reference: Json) -> TypeRef:
        return self.ref(ref.file, reference)

    def resource(self, resource_type: str, api_version: str) -> TypeRef | None:
        return self._resources.get((resource_type.lower(), api_version))

    def versions(self, resource_type: str) -> list[str]:
        return sorted(v for (t, v) in self._resources if t == resource_type.lower())

    def function(self, name: str, resource_type: str, api_version: str) -> TypeRef | None:
        return self._functions.get((name.lower(), resource_type.lower(), api_version))


# --- reading Bicep -------------------------------------------------------------------------


@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


def parse(source: bytes) -> Node:
    return _parser().parse(source).root_node


def text(node: Node) -> str:
    return (node.text or b"").decode()


def line_of(node: Node) -> int:
    return node.start_point[0] + 1


def string_literal(node: Node) -> str | None:
    """The value of a string without interpolation, else None."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.named_children):
        return None
    parts = []
    for part in node.named_children:
        if part.type == "string_content":
            parts.append(text(part))
        elif part.type == "escape_sequence":
            parts.append({"\\'": "'", "\\\\": "\\", "\\n": "\n", "\\$": "$"}.get(text(part), ""))
    return "".join(parts)


def key_of(prop: Node) -> str | None:
    """The key of an object property; None when it is computed ('${x}')."""
    first = prop.named_children[0]
    if first.type == "string":
        return string_literal(first)
    return text(first)


def value_of(prop: Node) -> Node:
    return prop.named_children[-1]


def object_properties(obj: Node) -> Iterator[Node]:
    """The `key: value` properties of an object literal (not nested resource declarations)."""
    for prop in obj.named_children:
        if prop.type == "object_property" and prop.named_children[0].type != "resource_declaration":
            yield prop


def body_of(declaration: Node) -> Node | None:
    """The object literal of a resource or module, also behind `if (...)` or `[for ...: {}]`."""
    for child in declaration.named_children:
        if child.type == "object":
            return child
        if child.type in {"if_statement", "for_statement"}:
            return body_of(child)
    return None


def decorators_of(declaration: Node) -> dict[str, list[Node]]:
    """`@name(args)` decorators written right above a declaration: name → argument nodes."""
    found: dict[str, list[Node]] = {}
    previous = declaration.prev_named_sibling
    if previous is None or previous.type != "decorators":
        return found
    for decorator in previous.named_children:
        call = decorator.named_children[0] if decorator.named_children else None
        if call is not None and call.type == "call_expression":
            arguments = call.named_children[1] if len(call.named_children) > 1 else None
            found[text(call.named_children[0])] = (
                list(arguments.named_children) if arguments else []
            )
    return found


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


# --- the declarations of one file ------------------------------------------------------------


@dataclass
class Parameter:
    name: str
    primitive: str  # string, int, bool, object, array (or a user type's text)
    allowed: list[Node]
    min_value: int | None
    max_value: int | None


@dataclass
class Resource:
    symbol: str
    type_name: str
    api_version: str
    existing: bool
    declaration: Node
    body: Node | None


@dataclass
class BicepFile:
    path: Path
    root: Node
    parameters: dict[str, Parameter] = field(default_factory=dict)
    variables: dict[str, Node] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    modules: dict[str, Path] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, path: Path) -> BicepFile:
        return cls.from_source(path, path.read_bytes())

    @classmethod
    def from_source(cls, path: Path, source: bytes) -> BicepFile:
        bicep = cls(path=path, root=parse(source))
        for node in bicep.root.named_children:
            if node.type == "parameter_declaration":
                bicep.parameters[text(node.named_children[0])] = _parameter(node)
            elif node.type == "variable_declaration":
                bicep.variables[text(node.named_children[0])] = node.named_children[-1]
            elif node.type == "output_declaration":
                bicep.outputs.add(text(node.named_children[0]))
            elif node.type == "module_declaration":
                module_path = string_literal(node.named_children[1]) or ""
                bicep.modules[text(node.named_children[0])] = path.parent / module_path
        for declaration in (n for n in walk(bicep.root) if n.type == "resource_declaration"):
            resource = _resource(declaration)
            bicep.resources[resource.symbol] = resource
        return bicep


def _number(node: Node | None) -> int | None:
    return int(text(node)) if node is not None and node.type == "number" else None


def _parameter(node: Node) -> Parameter:
    decorators = decorators_of(node)
    type_node = node.named_children[1]
    allowed = decorators.get("allowed", [])
    return Parameter(
        name=text(node.named_children[0]),
        primitive=text(type_node),
        allowed=list(allowed[0].named_children) if allowed and allowed[0].type == "array" else [],
        min_value=_number(next(iter(decorators.get("minValue", [])), None)),
        max_value=_number(next(iter(decorators.get("maxValue", [])), None)),
    )


def _resource(declaration: Node) -> Resource:
    type_text = string_literal(declaration.named_children[1]) or ""
    name, _, version = type_text.partition("@")
    parent = _enclosing_resource(declaration)
    if parent is not None and "/" not in name:
        # A nested child declares only its own segment ('blobServices'), without an API
        # version; it takes both from the resource it is written in.
        parent_resource = _resource(parent)
        name = f"{parent_resource.type_name}/{name}"
        version = version or parent_resource.api_version
    return Resource(
        symbol=text(declaration.named_children[0]),
        type_name=name,
        api_version=version,
        existing=any(child.type == "existing" for child in declaration.children),
        declaration=declaration,
        body=body_of(declaration),
    )


def _enclosing_resource(declaration: Node) -> Node | None:
    node = declaration.parent
    while node is not None:
        if node.type == "resource_declaration":
            return node
        node = node.parent
    return None


# --- findings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


# --- the checker ---------------------------------------------------------------------------


class Checker:
    """Checks one Bicep file (and the module files it names, for params and outputs)."""

    def __init__(self, bicep: BicepFile, library: TypeLibrary) -> None:
        self.bicep = bicep
        self.library = library
        self.findings: list[Finding] = []
        self._variables_in_progress: set[str] = set()

    def report(self, node: Node, message: str) -> None:
        self.findings.append(Finding(self.bicep.path, line_of(node), message))

    def run(self) -> list[Finding]:
        for resource in self.bicep.resources.values():
            self.check_resource(resource)
        for node in self.bicep.root.named_children:
            if node.type == "module_declaration":
                self.check_module(node)
        for node in walk(self.bicep.root):
            if _is_outermost_read(node):
                self.check_read(node)
        return self.findings

    # resources ---------------------------------------------------------------------------

    def check_resource(self, resource: Resource) -> None:
        ref = self.library.resource(resource.type_name, resource.api_version)
        type_node = resource.declaration.named_children[1]
        if ref is None:
            known = self.library.versions(resource.type_name)
            if known:
                self.report(
                    type_node,
                    f"{resource.type_name}@{resource.api_version}: no such API version "
                    f"(known here: {', '.join(known)})",
                )
            else:
                self.report(type_node, f"{resource.type_name}: unknown resource type")
            return
        if resource.body is None:
            return
        where = f"{resource.symbol} ({resource.type_name})"
        self.check_object(
            resource.body, ref, where, skip=BICEP_RESOURCE_KEYWORDS, require=not resource.existing
        )

    # objects and values ------------------------------------------------------------------

    def check_object(
        self,
        obj: Node,
        ref: TypeRef,
        where: str,
        *,
        skip: set[str] | frozenset[str] = frozenset(),
        require: bool = True,
        extra: dict[str, Json] | None = None,
    ) -> None:
        """Check an object literal against an ObjectType (plus `extra` properties)."""
        definition = self.library.get(ref)
        properties: dict[str, Json] = {**definition.get("properties", {}), **(extra or {})}
        additional = definition.get("additionalProperties")
        lowered = {name.lower(): name for name in properties}
        present: set[str] = set()
        for prop in object_properties(obj):
            key = key_of(prop)
            value = value_of(prop)
            if key is None:  # '${id}': {} — only where any key is allowed
                if additional is None:
                    self.report(prop, f"{where}: computed key on an object with fixed properties")
                else:
                    self.check_value(value, self.library.child(ref, additional), f"{where}[*]")
                continue
            if key in present:
                self.report(prop, f"{where}.{key} is set twice")
            present.add(key)
            if key in skip:
                continue
            if key in properties:
                spec = properties[key]
                if spec.get("flags", 0) & FLAG_READ_ONLY:
                    self.report(prop, f"{where}.{key} is read-only")
                self.check_value(value, self.library.child(ref, spec["type"]), f"{where}.{key}")
            elif additional is not None:
                self.check_value(value, self.library.child(ref, additional), f"{where}.{key}")
            elif key.lower() in lowered:
                self.report(
                    prop, f"{where}.{key}: wrong case, the property is '{lowered[key.lower()]}'"
                )
            else:
                self.report(
                    prop,
                    f"{where}.{key}: no such property on {definition.get('name', 'this object')}",
                )
        if require:
            missing = sorted(
                name
                for name, spec in properties.items()
                if spec.get("flags", 0) & FLAG_REQUIRED
                and not spec.get("flags", 0) & FLAG_READ_ONLY
                and name not in present
            )
            if missing:
                self.report(obj, f"{where}: required {', '.join(missing)} not set")

    def check_value(self, node: Node, ref: TypeRef, where: str) -> None:
        definition = self.library.get(ref)
        kind = definition["$type"]
        if node.type == "parenthesized_expression":
            self.check_value(node.named_children[0], ref, where)
        elif node.type == "ternary_expression":
            self.check_value(node.named_children[1], ref, where)
            self.check_value(node.named_children[2], ref, where)
        elif node.type == "identifier":
            self.check_name(node, ref, where)
        elif kind == "UnionType":
            self.check_union(node, ref, where)
        elif kind == "DiscriminatedObjectType":
            self.check_discriminated(node, ref, where)
        elif kind == "ObjectType":
            if node.type == "object":
                self.check_object(node, ref, where)
            elif _literal_kind(node) is not None:
                self.report(node, f"{where}: expected an object, found {_literal_kind(node)}")
        elif kind == "ArrayType":
            self.check_array(node, ref, where)
        else:
            self.check_scalar(node, definition, where)

    def check_scalar(self, node: Node, definition: Json, where: str) -> None:
        kind = definition["$type"]
        found = _literal_kind(node)
        if kind == "AnyType" or found is None:
            return
        expected = {
            "StringType": "string",
            "StringLiteralType": "string",
            "IntegerType": "int",
            "BooleanType": "bool",
        }.get(kind)
        if expected is None:
            return
        if found != expected:
            self.report(node, f"{where}: expected {expected}, found {found} {text(node)}")
            return
        if kind == "StringLiteralType":
            value = string_literal(node)
            if value is not None and value != definition["value"]:
                self.report(node, f"{where}: must be '{definition['value']}', found '{value}'")
        elif kind == "StringType":
            self.check_string_limits(node, definition, where)
        elif kind == "IntegerType":
            self.check_range(node, int(text(node)), definition, where)

    def check_string_limits(self, node: Node, definition: Json, where: str) -> None:
        value = string_literal(node)
        if value is None:
            return
        if "minLength" in definition and len(value) < definition["minLength"]:
            self.report(node, f"{where}: '{value}' is shorter than {definition['minLength']}")
        if "maxLength" in definition and len(value) > definition["maxLength"]:
            self.report(node, f"{where}: '{value}' is longer than {definition['maxLength']}")
        pattern = definition.get("pattern")
        if pattern:
            try:
                compiled = re.compile(pattern)
            except re.error:  # a .NET-only construct: leave it to Azure
                return
            if compiled.search(value) is None:
                self.report(node, f"{where}: '{value}' does not match {pattern}")

    def check_range(self, node: Node, value: int, definition: Json, where: str) -> None:
        low, high = definition.get("minValue"), definition.get("maxValue")
        if (low is not None and value < low) or (high is not None and value > high):
            self.report(node, f"{where}: {value} is outside {_range_text(low, high)}")

    def check_union(self, node: Node, ref: TypeRef, where: str) -> None:
        elements = [
            self.library.get(self.library.child(ref, e)) for e in self.library.get(ref)["elements"]
        ]
        literals = [e["value"] for e in elements if e["$type"] == "StringLiteralType"]
        open_string = any(e["$type"] == "StringType" for e in elements)
        found = _literal_kind(node)
        if found is None:
            return
        if found == "string" and literals:
            value = string_literal(node)
            if value is None or value in literals:
                return
            near = [v for v in literals if v.lower() == value.lower()]
            if near:
                self.report(node, f"{where}: '{value}' differs in case from '{near[0]}'")
            elif not open_string:
                self.report(node, f"{where}: '{value}' is not one of {', '.join(literals)}")
            return
        kinds = {_type_kind(e) for e in elements}
        if found not in kinds and "any" not in kinds:
            self.report(
                node, f"{where}: expected {' or '.join(sorted(kinds))}, found {found} {text(node)}"
            )

    def check_discriminated(self, node: Node, ref: TypeRef, where: str) -> None:
        definition = self.library.get(ref)
        if node.type != "object":
            if _literal_kind(node) is not None:
                self.report(node, f"{where}: expected an object, found {_literal_kind(node)}")
            return
        discriminator = definition["discriminator"]
        value_node = next(
            (value_of(p) for p in object_properties(node) if key_of(p) == discriminator), None
        )
        elements: dict[str, Json] = definition["elements"]
        base: dict[str, Json] = definition.get("baseProperties", {})
        value = string_literal(value_node) if value_node is not None else None
        if value_node is None:
            self.report(node, f"{where}: required {discriminator} not set")
            return
        if value is None:
            return  # chosen at deployment: nothing more can be known here
        if value not in elements:
            near = [k for k in elements if k.lower() == value.lower()]
            hint = (
                f"differs in case from '{near[0]}'"
                if near
                else (f"is not one of {', '.join(sorted(elements))}")
            )
            self.report(value_node, f"{where}.{discriminator}: '{value}' {hint}")
            return
        element = self.library.child(ref, elements[value])
        self.check_object(node, element, f"{where}<{value}>", extra=base)

    def check_array(self, node: Node, ref: TypeRef, where: str) -> None:
        definition = self.library.get(ref)
        item = self.library.child(ref, definition["itemType"])
        if node.type == "array":
            items = node.named_children
            for index, element in enumerate(items):
                self.check_value(element, item, f"{where}[{index}]")
            if "minLength" in definition and len(items) < definition["minLength"]:
                self.report(node, f"{where}: fewer than {definition['minLength']} items")
            if "maxLength" in definition and len(items) > definition["maxLength"]:
                self.report(node, f"{where}: more than {definition['maxLength']} items")
        elif node.type == "for_statement":
            self.check_value(node.named_children[-1], item, f"{where}[*]")
        elif _literal_kind(node) is not None:
            self.report(node, f"{where}: expected an array, found {_literal_kind(node)}")

    # names: parameters and variables ------------------------------------------------------

    def check_name(self, node: Node, ref: TypeRef, where: str) -> None:
        name = text(node)
        if name in self.bicep.parameters:
            self.check_parameter(node, self.bicep.parameters[name], ref, where)
        elif name in self.bicep.variables and name not in self._variables_in_progress:
            self._variables_in_progress.add(name)
            try:
                self.check_value(self.bicep.variables[name], ref, where)
            finally:
                self._variables_in_progress.discard(name)

    def check_parameter(self, node: Node, param: Parameter, ref: TypeRef, where: str) -> None:
        definition = self.library.get(ref)
        expected = _type_kind(definition)
        declared = {
            "string": "string",
            "int": "int",
            "bool": "bool",
            "object": "object",
            "array": "array",
        }.get(param.primitive)
        if (
            declared
            and expected not in {"any", declared}
            and not (
                definition["$type"] == "UnionType"
                and declared
                in {
                    _type_kind(self.library.get(self.library.child(ref, e)))
                    for e in definition["elements"]
                }
            )
        ):
            self.report(
                node,
                f"{where}: parameter {param.name} is {declared}, the property takes {expected}",
            )
            return
        for allowed in param.allowed:
            self.check_value(allowed, ref, f"{where} (@allowed of {param.name})")
        if definition["$type"] == "IntegerType":
            low, high = definition.get("minValue"), definition.get("maxValue")
            if (low is not None and (param.min_value is None or param.min_value < low)) or (
                high is not None and (param.max_value is None or param.max_value > high)
            ):
                self.report(
                    node,
                    f"{where}: parameter {param.name} allows "
                    f"{_range_text(param.min_value, param.max_value)}, "
                    f"the property {_range_text(low, high)}",
                )

    # modules -----------------------------------------------------------------------------

    def module_file(self, symbol: str) -> BicepFile | None:
        path = self.bicep.modules.get(symbol)
        return _read_module(path) if path is not None and path.is_file() else None

    def check_module(self, node: Node) -> None:
        symbol = text(node.named_children[0])
        module = self.module_file(symbol)
        body = body_of(node)
        if module is None:
            self.report(node, f"module {symbol}: {self.bicep.modules.get(symbol)} not found")
            return
        if body is None:
            return
        params = next((value_of(p) for p in object_properties(body) if key_of(p) == "params"), None)
        given: set[str] = set()
        if params is not None and params.type == "object":
            for prop in object_properties(params):
                key = key_of(prop)
                if key is None:
                    continue
                given.add(key)
                if key not in module.parameters:
                    near = [p for p in module.parameters if p.lower() == key.lower()]
                    hint = f" (the parameter is '{near[0]}')" if near else ""
                    self.report(
                        prop,
                        f"module {symbol}: {module.path.name} declares no parameter {key}{hint}",
                    )
        required = {
            name
            for name, declaration in _parameter_declarations(module).items()
            if not any(child.type == "=" for child in declaration.children)
        }
        missing = sorted(required - given)
        if missing:
            self.report(
                node, f"module {symbol}: required parameters not given: {', '.join(missing)}"
            )

    # reads -------------------------------------------------------------------------------

    def check_read(self, node: Node) -> None:
        root, steps = _flatten_read(node)
        if not steps:
            return
        if root.type == "call_expression":
            self.check_function_read(root, steps)
            return
        symbol_path = _resource_symbol_path(root)
        if symbol_path is None:
            return
        first = symbol_path[0]
        if first in self.bicep.modules and len(symbol_path) == 1:
            self.check_module_read(root, first, steps)
            return
        resource = self.bicep.resources.get(symbol_path[-1])
        if resource is None or first not in self.bicep.resources:
            return
        ref = self.library.resource(resource.type_name, resource.api_version)
        if ref is not None:
            self.walk_read(root, ref, steps, f"{'::'.join(symbol_path)}")

    def check_module_read(self, node: Node, symbol: str, steps: list[str]) -> None:
        module = self.module_file(symbol)
        if module is None or steps[0] != "outputs" or len(steps) < 2:
            return
        if steps[1] not in module.outputs:
            self.report(
                node, f"{symbol}.outputs.{steps[1]}: {module.path.name} declares no such output"
            )

    def check_function_read(self, call: Node, steps: list[str]) -> None:
        name = text(call.named_children[0])
        if not name.lower().startswith("list"):
            return
        arguments = call.named_children[1].named_children
        if len(arguments) < 2:
            return
        api_version = string_literal(arguments[1])
        resource_type = self.resource_type_of_id(arguments[0])
        if api_version is None or resource_type is None:
            return
        ref = self.library.function(name, resource_type, api_version)
        if ref is None:
            self.report(call, f"{name}: no such function on {resource_type}@{api_version}")
            return
        self.walk_read(call, ref, steps, f"{name}({resource_type})")

    def resource_type_of_id(self, node: Node) -> str | None:
        """The type of the resource an id expression names: '${app.id}/host/default' → the
        app's type + '/host'."""
        if node.type != "string" or not node.named_children:
            return None
        first = node.named_children[0]
        if first.type != "interpolation":
            return None
        root, steps = _flatten_read(first.named_children[0])
        path = _resource_symbol_path(root)
        if steps != ["id"] or path is None or path[-1] not in self.bicep.resources:
            return None
        rest = "".join(text(part) for part in node.named_children[1:])
        if any(part.type == "interpolation" for part in node.named_children[1:]):
            return None
        segments = [s for s in rest.split("/") if s]
        base = self.bicep.resources[path[-1]].type_name
        return "/".join([base, *segments[0::2]])

    def walk_read(self, node: Node, ref: TypeRef, steps: list[str], where: str) -> None:
        current = ref
        for step in steps:
            definition = self.library.get(current)
            kind = definition["$type"]
            if step == "[]":
                if kind != "ArrayType":
                    return
                current = self.library.child(current, definition["itemType"])
                continue
            properties: dict[str, Json] = {}
            if kind == "ObjectType":
                properties = definition.get("properties", {})
                if step not in properties and "additionalProperties" in definition:
                    current = self.library.child(current, definition["additionalProperties"])
                    where = f"{where}.{step}"
                    continue
            elif kind == "DiscriminatedObjectType":
                properties = dict(definition.get("baseProperties", {}))
                for element in definition["elements"].values():
                    element_ref = self.library.child(current, element)
                    properties.update(self.library.get(element_ref).get("properties", {}))
                # The element's own references are relative to the same file.
            elif kind in {"StringType", "StringLiteralType", "IntegerType", "BooleanType"}:
                self.report(
                    node,
                    f"{where}.{step}: {where} is a {_type_kind(definition)}, it has no properties",
                )
                return
            else:
                return  # any, a union: nothing more to know here
            if step not in properties:
                near = [p for p in properties if p.lower() == step.lower()]
                hint = f"wrong case, the property is '{near[0]}'" if near else "no such property"
                self.report(node, f"{where}.{step}: {hint}")
                return
            current = self.library.child(current, properties[step]["type"])
            where = f"{where}.{step}"


@cache
def _read_module(path: Path) -> BicepFile:
    return BicepFile.read(path)


def _parameter_declarations(bicep: BicepFile) -> dict[str, Node]:
    return {
        text(node.named_children[0]): node
        for node in bicep.root.named_children
        if node.type == "parameter_declaration"
    }


def _literal_kind(node: Node) -> str | None:
    """What a literal is (string, int, bool, object, array, null); None for an expression."""
    if node.type == "string":
        return "string"
    if node.type == "number":
        return "int"
    if node.type == "boolean":
        return "bool"
    if node.type in {"object", "array", "null"}:
        return node.type
    if node.type == "for_statement":
        return "array"
    return None


def _type_kind(definition: Json) -> str:
    return {
        "StringType": "string",
        "StringLiteralType": "string",
        "IntegerType": "int",
        "BooleanType": "bool",
        "ObjectType": "object",
        "DiscriminatedObjectType": "object",
        "ArrayType": "array",
        "UnionType": "union",
    }.get(definition["$type"], "any")


def _range_text(low: int | None, high: int | None) -> str:
    return f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def _is_outermost_read(node: Node) -> bool:
    if node.type not in {"member_expression", "subscript_expression"}:
        return False
    parent = node.parent
    return parent is None or not (
        parent.type in {"member_expression", "subscript_expression"}
        and parent.named_children[0] == node
    )


def _flatten_read(node: Node) -> tuple[Node, list[str]]:
    """`a.b[0].c` → (a, ['b', '[]', 'c'])."""
    steps: list[str] = []
    while node.type in {"member_expression", "subscript_expression"}:
        if node.type == "member_expression":
            steps.append(text(node.named_children[-1]))
        else:
            steps.append("[]")
        node = node.named_children[0]
    steps.reverse()
    return node, steps


def _resource_symbol_path(node: Node) -> list[str] | None:
    """`storage::blobService::container` → ['storage', 'blobService', 'container']."""
    if node.type == "identifier":
        return [text(node)]
    if node.type == "resource_expression":
        parts = [text(n) for n in node.named_children if n.type == "identifier"]
        inner = next((n for n in node.named_children if n.type == "resource_expression"), None)
        return ([*(_resource_symbol_path(inner) or []), *parts]) if inner else parts
    return None


def check_file(path: Path, library: TypeLibrary | None = None) -> list[Finding]:
    return Checker(BicepFile.read(path), library or TypeLibrary()).run()


def check_source(path: Path, source: str, library: TypeLibrary | None = None) -> list[Finding]:
    """Check Bicep text as if it were the file at `path` (modules resolve from its folder)."""
    return Checker(BicepFile.from_source(path, source.encode()), library or TypeLibrary()).run()


# --- trimming the upstream definitions to what the templates use ---------------------------


def used_resource_types(bicep_files: Iterable[Path]) -> set[tuple[str, str]]:
    used: set[tuple[str, str]] = set()
    for path in bicep_files:
        for resource in BicepFile.read(path).resources.values():
            used.add((resource.type_name.lower(), resource.api_version))
    return used


def trim_table(table: list[Json], used: set[tuple[str, str]]) -> list[Json]:
    """The entries of one upstream types.json that the used resource types reach (their bodies
    and the list* functions of them and their direct children), renumbered."""
    used_types = {name for name, _ in used}
    roots: list[int] = []
    for index, entry in enumerate(table):
        if entry["$type"] == "ResourceType":
            name, _, version = entry["name"].partition("@")
            if (name.lower(), version) in used:
                roots.append(index)
        elif entry["$type"] == "ResourceFunctionType":
            parent = entry["resourceType"].lower().rsplit("/", 1)[0]
            if entry["resourceType"].lower() in used_types or parent in used_types:
                roots.append(index)
    keep: list[int] = []
    seen: set[int] = set()
    pending = list(roots)
    while pending:
        index = pending.pop()
        if index in seen:
            continue
        seen.add(index)
        keep.append(index)
        pending.extend(_references(table[index]))
    order = sorted(keep)
    renumber = {old: new for new, old in enumerate(order)}
    return [_renumbered(table[old], renumber) for old in order]


def _references(value: Any) -> Iterator[int]:
    if isinstance(value, dict):
        pointer = value.get("$ref")
        if isinstance(pointer, str) and pointer.startswith("#/"):
            yield int(pointer[2:])
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _renumbered(value: Any, renumber: dict[int, int]) -> Any:
    """A copy with references renumbered and the prose descriptions left out (the check reads
    none of them; they are half of the upstream files' size)."""
    if isinstance(value, dict):
        pointer = value.get("$ref")
        if isinstance(pointer, str) and pointer.startswith("#/") and len(value) == 1:
            return {"$ref": f"#/{renumber[int(pointer[2:])]}"}
        return {
            key: _renumbered(item, renumber)
            for key, item in value.items()
            # prose only: a *property* named description maps to its definition, not a string
            if not (key == "description" and isinstance(item, str))
        }
    if isinstance(value, list):
        return [_renumbered(item, renumber) for item in value]
    return value


def trim(sources: Iterable[Path], infra: Path, destination: Path = TYPES_DIR) -> list[Path]:
    """Write the trimmed definitions of every provider/API version the templates use.

    `sources` are upstream files of Azure/bicep-types-az, either as laid out there
    (`generated/<provider>/<namespace>/<api-version>/types.json`) or already named
    `<provider>_<namespace>_<api-version>.json`."""
    used = used_resource_types(sorted(infra.rglob("*.bicep")))
    written = []
    destination.mkdir(parents=True, exist_ok=True)
    for source in sorted(sources):
        table: list[Json] = json.loads(source.read_text())
        trimmed = trim_table(table, used)
        resource_names = [e["name"] for e in trimmed if e["$type"] == "ResourceType"]
        if not resource_names:
            continue
        provider = source.parts[-4] if source.name == "types.json" else source.name.split("_")[0]
        namespace = resource_names[0].split("/")[0].lower()
        version = resource_names[0].partition("@")[2]
        target = destination / f"{provider}_{namespace}_{version}.json"
        target.write_text(
            "[\n" + ",\n".join(json.dumps(e, sort_keys=True) for e in trimmed) + "\n]\n"
        )
        written.append(target)
    return written


def _type_files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.json")) if path.is_dir() else [path]


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "check":
        findings = [f for path in argv[1:] for f in check_file(Path(path))]
        for finding in findings:
            print(finding)
        return 1 if findings else 0
    if len(argv) >= 3 and argv[0] == "trim":
        sources = [p for arg in argv[2:] for p in _type_files(Path(arg))]
        for path in trim(sources, Path(argv[1])):
            print(path)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
