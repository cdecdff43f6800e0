"""Hostile-input guards for the YAML and JSON augmath reads (through augmath.io's readers).

YAML: a key given twice in one mapping is refused naming both lines (PyYAML keeps the last silently: `limit: 40`
then `limit: 4000` ran 4000); aliases may not expand past MAX_YAML_NODES nodes (a 9-level x 9-alias "billion
laughs" is 387M nodes once a checker walks it) nor refer to themselves.
JSON: nesting past MAX_JSON_DEPTH is one error naming the line (not a RecursionError); NaN and Infinity, which
Python's json reads and writes but JSON has not, are refused in input.
"""

from __future__ import annotations

import functools

MAX_YAML_NODES = 100_000
MAX_JSON_DEPTH = 512
MERGE_TAG = "tag:yaml.org,2002:merge"


@functools.cache
def strict_loader() -> type:
    """SafeLoader that refuses duplicate keys (explicit ones: a `<<` merge may still be overridden). Made on first
    use: importing augmath.io must not import yaml."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                first: dict = {}
                for key_node, _ in node.value:
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
                        continue
                    key = (key_node.tag, key_node.value)
                    if key in first:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key_node.value!r} (also on line {first[key] + 1}; "
                            "a key may be given once)", key_node.start_mark)
                    first[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep)
    return StrictLoader


def _expanded_size(node, memo: dict, active: set) -> int:
    """Nodes in `node` with every alias expanded, counted once per anchor (memo) so the count itself is cheap."""
    import yaml

    if id(node) in memo:
        return memo[id(node)]
    if id(node) in active:
        raise yaml.composer.ComposerError(None, None, "an alias refers to a node that contains it", node.start_mark)
    active.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, memo, active) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, active) + _expanded_size(v, memo, active) for k, v in node.value)
    else:
        size = 1
    active.discard(id(node))
    if size > MAX_YAML_NODES:
        raise yaml.composer.ComposerError(
            None, None, f"aliases expand to over {MAX_YAML_NODES:,} nodes (an alias bomb?); write the values out",
            node.start_mark)
    memo[id(node)] = size
    return size


def load_yaml(text: str):
    """yaml.safe_load with the guards above; errors are yaml.YAMLError with a problem_mark (augmath.io names the
    file and line)."""
    loader = strict_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def refuse_constant(name: str):
    """json's parse_constant: NaN, Infinity and -Infinity are not JSON."""
    raise ValueError(f"{name} is not valid JSON (write null, or a number)")


def deep_line(text: str, limit: int = MAX_JSON_DEPTH) -> int | None:
    """The 1-based line where JSON `text` first nests deeper than `limit` ([ and { outside strings), or None."""
    depth, line, in_string, escaped = 0, 1, False, False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return line
        elif ch in "]}":
            depth -= 1
    return None
