"""One YAML loader for every data file the tool reads (clause files, templates, scenarios, source registries,
ACLED mappings): safe (only plain data: no tag that constructs an object), duplicate keys refused, alias
expansion bounded, and every error one line that names the file, the line and the field path:

    doc = load_yaml(text, "scenario.yaml", InputError)
    doc.data                         # the plain Python value
    doc.where_of(("terms", "P3"))    # "scenario.yaml:12", the line that names that field
    doc.at(("as_of",), "is required")  # InputError("as_of: is required", "scenario.yaml:1")

A problem found while reading the YAML itself reads `<file>:<line>: <field path>: <reason>`, as a problem
found later by the model that validates the data does (`first_validation_error`, `YamlDocument.locate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml
from pydantic import ValidationError

from .dates import not_a_date
from .errors import ComplianceError, InputError
from .resources import read_small_text

try:  # the C parser is much faster; both are safe loaders that never execute anything
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

# How many nodes aliases may add to a document once expanded: a few hundred bytes of nested aliases
# ("billion laughs") expand to billions of nodes, which nothing downstream should walk.
MAX_EXPANDED_NODES = 200_000
TOP_LEVEL = "(top level)"

_SAFE_TAGS = frozenset(tag for tag in yaml.constructor.SafeConstructor.yaml_constructors if tag is not None)
_KEY_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})  # `<<` and `=` keys
_STANDARD_PREFIX = "tag:yaml.org,2002:"

Loc = tuple[Any, ...]


def field_path(loc: Iterable[Any]) -> str:
    """A location as errors name it: `terms.P3-personnel-cap.limit`, or `(top level)`."""
    return ".".join(str(part) for part in loc) or TOP_LEVEL


def _child(node: yaml.Node | None, key: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """(the node naming `key`, the node it leads to): a mapping's key and value, or a sequence's item twice."""
    if isinstance(node, yaml.MappingNode):
        return next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(key)), None)
    if isinstance(node, yaml.SequenceNode):
        index = key if isinstance(key, int) else int(key) if isinstance(key, str) and key.isdigit() else None
        if index is not None and 0 <= index < len(node.value):
            return node.value[index], node.value[index]
    return None


@dataclass(frozen=True)
class YamlDocument:
    """A loaded YAML document: its data, its node tree (for line numbers) and the name errors use."""

    data: Any
    tree: yaml.Node | None
    where: str

    def line_of(self, loc: Iterable[Any]) -> int | None:
        """The 1-based line that names the field a path of keys and indexes leads to (as far as it leads): a
        mapping entry's key, a list item's start."""
        node = self.tree
        line = node.start_mark.line + 1 if node is not None else None
        for key in loc:
            found = _child(node, key)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        return line

    def where_of(self, loc: Iterable[Any]) -> str:
        """`file:line` for a path of keys (just `file` when no line is known)."""
        line = self.line_of(loc)
        return f"{self.where}:{line}" if line else self.where

    def loc_of(self, dotted: str) -> Loc:
        """The path of keys a dotted field path names (`subjects.ceasefire.breach.0`: a key may hold dots)."""
        parts = dotted.split(".")
        node, loc, start = self.tree, [], 0
        while start < len(parts):
            for end in range(len(parts), start, -1):  # the longest key that matches
                key = ".".join(parts[start:end])
                found = _child(node, key)
                if found is not None:
                    loc.append(int(key) if isinstance(node, yaml.SequenceNode) else key)
                    node, start = found[1], end
                    break
            else:
                return (*loc, *parts[start:])
        return tuple(loc)

    def at(self, loc: Iterable[Any], reason: str, error: type[ComplianceError] = InputError) -> ComplianceError:
        """`error` at `file:line` of the field `loc`, its reason prefixed with the field path."""
        loc = tuple(loc)
        return error(f"{field_path(loc)}: {reason}", self.where_of(loc))

    def locate(self, failure: ComplianceError) -> ComplianceError:
        """The same error at `file:line: field`, for one whose `where` is a dotted field path (or nothing)."""
        if not failure.where:
            return type(failure)(failure.reason, self.where_of(()))
        return type(failure)(f"{failure.where}: {failure.reason}", self.where_of(self.loc_of(failure.where)))

    def mapping(self, reason: str, error: type[ComplianceError] = InputError) -> dict[Any, Any]:
        """The document's data when it is a mapping; else `error` at the top level, `reason` saying what the file
        must be and then what it is."""
        if isinstance(self.data, dict):
            return self.data
        got = "nothing (the file is empty)" if self.data is None else f"a {_type_name(self.data)}"
        raise self.at((), f"{reason}; got {got}", error)


def _type_name(value: Any) -> str:
    return {"list": "list", "str": "string", "int": "number", "float": "number", "bool": "true or false"}.get(
        type(value).__name__, type(value).__name__)


def _problem(error: yaml.YAMLError) -> str:
    return getattr(error, "problem", None) or str(error).splitlines()[0]


def _mark_line(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f":{mark.line + 1}" if mark is not None else ""


def _shown_tag(tag: str) -> str:
    return "!!" + tag[len(_STANDARD_PREFIX):] if tag.startswith(_STANDARD_PREFIX) else tag


def _children(node: yaml.Node, loc: Loc) -> list[tuple[yaml.Node, Loc]]:
    """A node's children in document order, each with its path (a mapping's key has the path of its entry)."""
    if isinstance(node, yaml.MappingNode):
        out: list[tuple[yaml.Node, Loc]] = []
        for key_node, value_node in node.value:
            path = (*loc, getattr(key_node, "value", "?"))
            out += [(key_node, path), (value_node, path)]
        return out
    if isinstance(node, yaml.SequenceNode):
        return [(child, (*loc, index)) for index, child in enumerate(node.value)]
    return []


def _check_tree(tree: yaml.Node, doc: YamlDocument, error: type[ComplianceError], max_added: int) -> None:
    """Refuse tags that construct objects, duplicate keys, recursive aliases and documents whose aliases add more
    than `max_added` nodes once expanded; each at the line and field path of the node at fault."""
    distinct = 0
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, Loc, bool]] = [(tree, (), False)]
    measured: list[tuple[yaml.Node, Loc]] = []  # post-order, each distinct node once
    while stack:
        node, loc, done = stack.pop()
        key = id(node)
        if done:
            visiting.discard(key)
            measured.append((node, loc))
            sizes[key] = -1  # measured below, once every distinct node is counted
            continue
        if key in visiting:
            raise error(f"{field_path(loc)}: not valid YAML: an alias refers to a node that contains it",
                        doc.where_of(loc))
        if key in sizes:
            continue  # an alias to a node already walked
        distinct += 1
        if node.tag not in _SAFE_TAGS and not (isinstance(node, yaml.ScalarNode) and node.tag in _KEY_TAGS):
            raise error(f"{field_path(loc)}: not valid YAML: no constructor for the tag {_shown_tag(node.tag)!r} "
                        "(only plain data is read)", doc.where_of(loc))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag not in _KEY_TAGS:
                    line = key_node.start_mark.line + 1
                    if key_node.value in seen:
                        raise error(f"{field_path((*loc, key_node.value))}: not valid YAML: duplicate key "
                                    f"{key_node.value!r} (first on line {seen[key_node.value]})",
                                    f"{doc.where}:{line}")
                    seen[key_node.value] = line
        visiting.add(key)
        stack.append((node, loc, True))
        stack.extend(reversed([(child, path, False) for child, path in _children(node, loc)]))
    limit = distinct + max_added
    for node, loc in measured:
        size = 1 + sum(sizes[id(child)] for child, _ in _children(node, loc))
        if size > limit:
            raise error(f"{field_path(loc)}: not valid YAML: aliases expand to more than {max_added:,} nodes beyond "
                        "the document's own", doc.where_of(loc))
        sizes[id(node)] = size


def _scalars(tree: yaml.Node) -> Iterator[tuple[yaml.ScalarNode, Loc]]:
    """Every distinct scalar of the document, in document order, with its path."""
    stack: list[tuple[yaml.Node, Loc]] = [(tree, ())]
    seen: set[int] = set()
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            yield node, loc
        else:
            stack.extend(reversed(_children(node, loc)))


def _bad_scalar(tree: yaml.Node, doc: YamlDocument, error: type[ComplianceError], failure: Exception) -> ComplianceError:
    """The error for the first scalar the safe constructor cannot build (PyYAML's own message has no line)."""
    constructor = yaml.constructor.SafeConstructor()
    for node, loc in _scalars(tree):
        try:
            constructor.construct_object(node)
        except Exception as problem:  # whatever the safe constructor raises for this scalar
            kind = node.tag.rsplit(":", 1)[-1]
            if kind == "timestamp":
                reason = not_a_date(node.value[:40], "a date (YYYY-MM-DD) or date-time")
            else:
                detail = f" ({str(problem)[:80]})" if type(problem) is ValueError else ""
                reason = f"not valid YAML: {node.value[:40]!r} is not a valid {kind}{detail}"
            return error(f"{field_path(loc)}: {reason}", f"{doc.where}:{node.start_mark.line + 1}")
    return error(f"not valid YAML: {failure}", doc.where)


def load_yaml(text: str, where: str, error: type[ComplianceError] = InputError, *,
              max_nodes: int = MAX_EXPANDED_NODES) -> YamlDocument:
    """Parse one YAML document safely; every problem raises `error` naming `where:line` and the field path.

    `max_nodes` bounds how many nodes aliases may add once expanded."""
    loader = _Loader(text)
    try:
        try:
            tree = loader.get_single_node()
        except yaml.YAMLError as failure:
            raise error(f"not valid YAML: {_problem(failure)}", f"{where}{_mark_line(failure)}") from None
        except RecursionError:
            raise error("not valid YAML: nested too deeply", where) from None
        if tree is None:
            return YamlDocument(None, None, where)
        shell = YamlDocument(None, tree, where)
        _check_tree(tree, shell, error, max_nodes)
        try:
            data = loader.construct_document(tree)
        except yaml.YAMLError as failure:
            raise error(f"not valid YAML: {_problem(failure)}", f"{where}{_mark_line(failure)}") from None
        except RecursionError:
            raise error("not valid YAML: nested too deeply", where) from None
        except Exception as failure:  # a scalar its tag cannot hold (2020-13-45, !!int 0x, !!bool x)
            raise _bad_scalar(tree, shell, error, failure) from None
    finally:
        loader.dispose()
    return YamlDocument(data, tree, where)


def read_yaml_file(path: str | Path, max_bytes: int, error: type[ComplianceError] = InputError) -> YamlDocument:
    """Read and parse a YAML file of at most `max_bytes` (UTF-8); errors name the file as given."""
    return load_yaml(read_small_text(Path(path), max_bytes, error), str(path), error)


def first_validation_error(doc: YamlDocument, failure: ValidationError, error: type[ComplianceError],
                           skip: frozenset[str] = frozenset(), prefix: tuple[Any, ...] = ()) -> ComplianceError:
    """The first pydantic error as `error`, located at `file:line` with its field path.

    `skip` names location parts pydantic inserts that are not keys of the document (union tags such as
    'int' or 'date'); `prefix` is the path of the validated value inside the document."""
    first = failure.errors()[0]
    loc = tuple(part for part in first["loc"] if not (isinstance(part, str) and part in skip))
    message = first["msg"].removeprefix("Value error, ")
    if not loc:  # a check across fields names its place at the start of its message ("obligations.3 (ID): ...")
        found = re.match(r"^([a-z_]+)\.(\d+)(?: \([^)]*\))?: ", message)
        if found:
            loc = (found.group(1), int(found.group(2)))
            message = message[found.end():]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return doc.at((*prefix, *loc), message, error)
