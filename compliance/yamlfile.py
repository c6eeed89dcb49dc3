"""One YAML loader for every data file the tool reads (clause files, templates, scenarios, source registries,
ACLED mappings): safe (no tags that construct objects), duplicate keys refused, alias expansion bounded, and
errors that name the file and line.

    doc = load_yaml(text, "scenario.yaml", InputError)
    doc.data                    # the plain Python value
    doc.where_of(("terms", 0))  # "scenario.yaml:12", the line a pydantic error location points at
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from .errors import ComplianceError, InputError

try:  # the C parser is much faster; both are safe loaders that never execute anything
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

# How many nodes a document may hold once its aliases are expanded: a few hundred bytes of nested aliases
# ("billion laughs") expand to billions of nodes, which nothing downstream should walk.
MAX_EXPANDED_NODES = 200_000


@dataclass(frozen=True)
class YamlDocument:
    """A loaded YAML document: its data, its node tree (for line numbers) and the name errors use."""

    data: Any
    tree: yaml.Node | None
    where: str

    def line_of(self, loc: Iterable[Any]) -> int | None:
        """The 1-based line of the node a path of keys and indexes leads to (as far as it leads)."""
        node = self.tree
        line = node.start_mark.line + 1 if node is not None else None
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
                nxt = node.value[key]
            else:
                nxt = None
            if nxt is None:
                break
            node = nxt
            line = node.start_mark.line + 1
        return line

    def where_of(self, loc: Iterable[Any]) -> str:
        """`file:line` for a path of keys (just `file` when no line is known)."""
        line = self.line_of(loc)
        return f"{self.where}:{line}" if line else self.where


def _problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return problem


def _mark_line(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f":{mark.line + 1}" if mark is not None else ""


def _check_tree(tree: yaml.Node, where: str, error: type[ComplianceError], max_nodes: int) -> None:
    """Refuse duplicate keys and documents whose aliases expand to more than `max_nodes` nodes."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(tree, False)]
    visiting: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            visiting.discard(key)
            if isinstance(node, yaml.MappingNode):
                children = [item for pair in node.value for item in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = node.value
            else:
                children = []
            size = 1 + sum(sizes[id(child)] for child in children)
            if size > max_nodes:
                raise error(f"not valid YAML: aliases expand to more than {max_nodes:,} nodes",
                            f"{where}:{node.start_mark.line + 1}")
            sizes[key] = size
            continue
        if key in sizes or key in visiting:
            continue  # an alias to a node already measured (or, for a recursive alias, being measured)
        visiting.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                    if key_node.value in seen:
                        raise error(f"not valid YAML: duplicate key {key_node.value!r}",
                                    f"{where}:{key_node.start_mark.line + 1}")
                    seen.add(key_node.value)
                stack.append((value_node, False))
                stack.append((key_node, False))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, False) for child in reversed(node.value))


def _bad_scalar(tree: yaml.Node | None) -> yaml.ScalarNode | None:
    """The first scalar the safe constructor cannot build (PyYAML's own error for it has no line)."""
    constructor = yaml.constructor.SafeConstructor()
    stack = [tree] if tree is not None else []
    seen: set[int] = set()
    while stack:  # depth first, in document order
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except Exception:  # whatever the safe constructor raises for this scalar
                return node
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(reversed([item for pair in node.value for item in pair]))
    return None


def load_yaml(text: str, where: str, error: type[ComplianceError] = InputError, *,
              max_nodes: int = MAX_EXPANDED_NODES) -> YamlDocument:
    """Parse one YAML document safely; every problem raises `error` naming `where:line`."""
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
        _check_tree(tree, where, error, max_nodes)
        try:
            data = loader.construct_document(tree)
        except yaml.YAMLError as failure:
            raise error(f"not valid YAML: {_problem(failure)}", f"{where}{_mark_line(failure)}") from None
        except RecursionError:
            raise error("not valid YAML: nested too deeply", where) from None
        except Exception as failure:  # a scalar its tag cannot hold (2020-13-45, !!int 0x, !!bool x)
            node = _bad_scalar(tree)
            if node is None:
                raise error(f"not valid YAML: {failure}", where) from None
            kind = node.tag.rsplit(":", 1)[-1]
            detail = f" ({str(failure)[:80]})" if type(failure) is ValueError else ""
            raise error(f"not valid YAML: {node.value[:40]!r} is not a valid {kind}{detail}",
                        f"{where}:{node.start_mark.line + 1}") from None
    finally:
        loader.dispose()
    return YamlDocument(data, tree, where)


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
    field = ".".join(str(part) for part in (*prefix, *loc)) or "(top level)"
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return error(f"{field}: {message}", doc.where_of((*prefix, *loc)))
