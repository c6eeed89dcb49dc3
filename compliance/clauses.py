"""Loading clause files: bundled agreements by ID, or a YAML file or folder by path, validated with pydantic."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .agreement import Agreement
from .errors import ClauseFileError, UnknownReferenceError
from .resources import clauses_dir, read_small_text

try:  # the C loader is much faster; both are safe loaders that never execute anything
    _SafeLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _SafeLoader = yaml.SafeLoader

MAX_CLAUSE_FILE_BYTES = 5_000_000


def bundled_ids() -> list[str]:
    """IDs of the agreements shipped with the package."""
    return sorted(path.stem for path in clauses_dir().glob("*.yaml"))


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree; return the 1-based line it ends on."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _bad_scalar(tree: yaml.Node | None) -> yaml.ScalarNode | None:
    """The first scalar the safe constructor cannot build (the loader's own error has no line)."""
    constructor = yaml.constructor.SafeConstructor()
    stack = [tree] if tree is not None else []
    while stack:  # depth first, in document order
        node = stack.pop()
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


def parse_agreement(text: str, where: str) -> Agreement:
    """Validate clause-file text; errors name the file, the line, the field path and the reason."""
    try:
        tree = yaml.compose(text, Loader=_SafeLoader)
        data = yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ClauseFileError(f"not valid YAML: {problem}", f"{where}{line}") from None
    except RecursionError:
        raise ClauseFileError("not valid YAML: nested too deeply", where) from None
    except Exception as error:  # a scalar its tag cannot hold (2020-13-45, !!int 0x, !!bool x, !!timestamp x)
        node = _bad_scalar(tree)
        if node is None:
            raise ClauseFileError(f"not valid YAML: {error}", where) from None
        kind = node.tag.rsplit(":", 1)[-1]
        detail = f" ({str(error)[:80]})" if type(error) is ValueError else ""
        raise ClauseFileError(f"not valid YAML: {node.value[:40]!r} is not a valid {kind}{detail}",
                              f"{where}:{node.start_mark.line + 1}") from None
    if not isinstance(data, dict):
        raise ClauseFileError("a clause file must be a YAML mapping of agreement fields", where)
    try:
        return Agreement.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(part for part in first["loc"] if not (isinstance(part, str) and part in {
            "prohibition", "cap", "deadline", "establishment", "linked-series", "term-renewal", "date", "int"}))
        line = _line_of(tree, loc)
        field = ".".join(str(part) for part in loc) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        raise ClauseFileError(f"{field}: {message}", f"{where}:{line}" if line else where) from None


def _read(path: Path) -> str:
    return read_small_text(path, MAX_CLAUSE_FILE_BYTES, ClauseFileError)


@lru_cache(maxsize=32)
def _load_path(path: Path, mtime: float) -> Agreement:
    return parse_agreement(_read(path), str(path))


def load_agreement(ref: str | Path) -> Agreement:
    """Load a bundled agreement by ID (`nov-10-2020`) or a clause file or folder by path."""
    text = str(ref)
    candidate = Path(text).expanduser()
    bundled = clauses_dir() / f"{text}.yaml"
    if "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml")) and bundled.is_file():
        path = bundled
    elif candidate.is_dir():
        files = sorted([*candidate.glob("*.yaml"), *candidate.glob("*.yml")])
        if len(files) != 1:
            raise ClauseFileError(f"a clause folder must hold exactly one .yaml agreement file, found {len(files)}", str(candidate))
        path = files[0]
    elif candidate.is_file():
        path = candidate
    elif candidate.exists():  # a pipe (`<(...)`), a device, a socket: read it, or fail as a file that cannot be read
        return parse_agreement(_read(candidate), str(candidate))
    else:
        raise UnknownReferenceError(
            f"no bundled agreement or clause file {text!r} (bundled: {', '.join(bundled_ids()) or 'none'})", "--agreement")
    resolved = path.resolve()
    return _load_path(resolved, resolved.stat().st_mtime)
