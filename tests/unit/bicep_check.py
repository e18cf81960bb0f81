"""Offline checks for infra/*.bicep: parse with pycep-parser, then hold every resource's
`type@apiVersion` and every property path it writes to the published Bicep types
(shared/data/bicep-types, generated from Azure/bicep-types-az). Also a small evaluator for
the array expressions (map/filter/flatten/union/concat over apps.json) the tests need."""

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

# Bicep keywords that are not part of a resource body.
BICEP_KEYWORDS = {"parent", "scope", "dependsOn"}
# Functions whose result is made of their arguments: literal objects/arrays among the
# arguments are checked against the same schema node.
PASS_THROUGH = {"concat", "union", "coalesce"}


def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)  # type: ignore[no-any-return]


def parse_text(text: str, tmp: Path) -> dict[str, Any]:
    file = tmp / "snippet.bicep"
    file.write_text(text)
    return parse(file)


class Types:
    def __init__(self, data_dir: Path):
        self.full = json.loads((data_dir / "resource-types-all-versions.json").read_text())["resources"]
        index = json.loads((data_dir / "resource-type-index.json").read_text())
        self.index = {k.lower(): v for k, v in index["types"].items()}
        self.read_only = {k.lower(): set(v) for k, v in index["readOnlyVersions"].items()}
        self.full_lower = {k.lower(): v for k, v in self.full.items()}


@cache
def load_types(data_dir: Path) -> Types:
    return Types(data_dir)


def unwrap(config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A resource/module body without its `for` and `if` wrappers; True when looped."""
    looped = False
    while isinstance(config, dict) and "config" in config and ("loop_type" in config or "condition" in config):
        looped = looped or "loop_type" in config
        config = config["config"]
    return config, looped


def identifiers(tree: dict[str, Any]) -> set[str]:
    """Names an unquoted string in pycep's output may be (pycep writes identifiers and string
    literals alike); enum values are only checked for strings that are none of these."""
    names = set(tree.get("parameters", {})) | set(tree.get("variables", {})) | set(tree.get("resources", {}))
    names |= set(tree.get("modules", {}))
    names |= set(re.findall(r"\bfor\s+\(?\s*(\w+)", json.dumps(tree)))
    return names


def _literals(expr: Any) -> Iterator[Any]:
    """Literal objects/arrays an expression's value is built from (through concat/union,
    both branches of a ternary, and the body of a map lambda, as one item)."""
    if isinstance(expr, list):
        yield expr
    elif isinstance(expr, dict) and "function" in expr and len(expr) == 1:
        fn = expr["function"]
        if fn["type"] in PASS_THROUGH:
            for arg in fn["parameters"].values():
                yield from _literals(arg)
        elif fn["type"] == "map":
            body = fn["parameters"]["arg_2"]["detail"]["expression"]
            if isinstance(body, dict) and not ({"function", "operator"} & set(body)):
                yield [body]
    elif isinstance(expr, dict) and "operator" in expr and len(expr) == 1:
        op = expr["operator"]
        if op["type"] == "conditional":
            yield from _literals(op["operands"]["true_value"])
            yield from _literals(op["operands"]["false_value"])
        else:  # pycep may nest a ternary inside `a.b == c ? x : y`'s operands: follow expressions only
            for operand in op["operands"].values():
                if _is_expression(operand):
                    yield from _literals(operand)
    elif isinstance(expr, dict) and not ({"function", "operator", "loop_type"} & set(expr)):
        yield expr


def _is_expression(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and ("function" in value or "operator" in value)


def walk(value: Any, node: dict[str, Any], path: str, errors: list[str], names: set[str]) -> None:
    kind = node.get("type")
    if value is None or kind == "any":
        return
    if kind == "union" and "anyOf" in node:
        trials = []
        for option in node["anyOf"]:
            trial: list[str] = []
            walk(value, option, path, trial, names)
            trials.append(trial)
        if all(trials):
            errors.extend(min(trials, key=len))
        return
    if isinstance(value, dict) and "loop_type" in value:  # [for x in y: {...}]
        if kind != "array":
            errors.append(f"{path}: a for-expression where the type is {kind}")
            return
        walk(unwrap(value)[0], node["items"], path + "[]", errors, names)
        return
    if _is_expression(value):
        for literal in _literals(value):
            walk(literal, node, path, errors, names)
        return
    if isinstance(value, list):
        if kind != "array":
            errors.append(f"{path}: an array where the type is {kind}")
            return
        for item in value:
            walk(item, node["items"], path + "[]", errors, names)
        return
    if isinstance(value, dict):
        if kind != "object":
            errors.append(f"{path}: an object where the type is {kind}")
            return
        props = dict(node.get("properties", {}))
        variants = node.get("variants")
        if variants:
            chosen = value.get(node["discriminator"])
            extra = [variants[chosen]] if chosen in variants else list(variants.values())
            for variant in extra:
                props.update(variant.get("properties", {}))
        for raw_key, sub in value.items():
            key = raw_key.strip("'")
            if key in props:
                if props[key].get("readonly"):
                    errors.append(f"{path}.{key}: read-only property")
                walk(sub, props[key], f"{path}.{key}", errors, names)
            elif "additionalProperties" in node:
                walk(sub, node["additionalProperties"], f"{path}.{key}", errors, names)
            else:
                errors.append(f"{path}.{key}: no such property")
        return
    allowed = node.get("allowed")
    if (kind == "union" and allowed and not node.get("anyString") and isinstance(value, str)
            and "${" not in value and value not in names and value not in allowed):
        errors.append(f"{path}: {value!r} is not one of {allowed}")


def check_tree(tree: dict[str, Any], types: Types) -> tuple[list[str], list[str]]:
    """(errors, notes): notes name resources whose type exists but whose property tree is not
    in the shared data (only type@apiVersion checked)."""
    errors: list[str] = []
    notes: list[str] = []
    names = identifiers(tree)
    for sym, res in tree.get("resources", {}).items():
        key = f"{res['type']}@{res['api_version']}"
        lower_type = res["type"].lower()
        if lower_type not in types.index or res["api_version"] not in types.index[lower_type]:
            errors.append(f"{sym}: {key} is not a published type and API version")
            continue
        if not res["existing"] and res["api_version"] in types.read_only.get(lower_type, set()):
            errors.append(f"{sym}: {key} can only be `existing`")
        schema = types.full_lower.get(key.lower())
        if schema is None:
            notes.append(f"{sym}: {key} (type and version checked; no property tree in the shared data)")
            continue
        body, _ = unwrap(res["config"])
        if res["existing"]:
            continue
        root = {"type": "object", "properties": schema["properties"]}
        walk({k: v for k, v in body.items() if k not in BICEP_KEYWORDS}, root, sym, errors, names)
    return errors, notes


def check_modules(tree: dict[str, Any], base: Path) -> list[str]:
    """Every module call passes only parameters the module declares, and all it requires."""
    errors = []
    for sym, mod in tree.get("modules", {}).items():
        target = parse(base / mod["detail"]["path"])
        declared = target.get("parameters", {})
        passed = set(unwrap(mod["config"])[0].get("params", {}))
        required = {n for n, p in declared.items() if p.get("default") is None}
        errors += [f"{sym}: passes unknown parameter {p}" for p in sorted(passed - set(declared))]
        errors += [f"{sym}: misses required parameter {p}" for p in sorted(required - passed)]
    return errors


# --- a small evaluator for the expressions over apps.json and parameters -----------------

def _reassociate(accessor: dict[str, Any]) -> Any:
    """pycep reads `a.b == c` as `a.(b == c)`; turn that back into `(a.b) == c`."""
    left, right = accessor["operands"]["operand_1"], accessor["operands"]["operand_2"]
    if _is_expression(right) and "operator" in right and right["operator"]["type"] != "property_accessor":
        op = right["operator"]
        operands = dict(op["operands"])
        first = next(iter(operands))
        operands[first] = {"operator": {"type": "property_accessor",
                                        "operands": {"operand_1": left, "operand_2": operands[first]}}}
        return {"operator": {"type": op["type"], "operands": operands}}
    return None


def _lift_conditional(op: dict[str, Any]) -> Any:
    """pycep reads `a == b ? x : y` as `a == (b ? x : y)`; a ternary binds loosest, so turn it
    back into `(a == b) ? x : y`."""
    right = op["operands"]["operand_2"]
    if not (_is_expression(right) and right.get("operator", {}).get("type") == "conditional"):
        return None
    branches = right["operator"]["operands"]
    test = {"operator": {"type": op["type"], "operands": {"operand_1": op["operands"]["operand_1"],
                                                           "operand_2": branches["condition"]}}}
    return {"operator": {"type": "conditional", "operands": {
        "condition": test, "true_value": branches["true_value"], "false_value": branches["false_value"]}}}


def _loop(expr: dict[str, Any], scope: dict[str, Any]) -> list[Any]:
    """`[for x in xs: ...]` and `[for (x, i) in xs: ...]`."""
    detail = expr["loop_type"]["detail"]
    out = []
    for i, item in enumerate(evaluate(detail["array_name"], scope)):
        inner = {**scope, detail["item_name"]: item}
        if "index_name" in detail:
            inner[detail["index_name"]] = i
        out.append(evaluate(expr["config"], inner))
    return out


def evaluate(expr: Any, scope: dict[str, Any]) -> Any:
    if isinstance(expr, str):
        if expr in scope:
            return scope[expr]
        return re.sub(r"\$\{(\w+)\}", lambda m: str(scope[m.group(1)]), expr)
    if isinstance(expr, list):
        return [evaluate(e, scope) for e in expr]
    if not isinstance(expr, dict):
        return expr
    if "loop_type" in expr:
        return _loop(expr, scope)
    if "operator" in expr and len(expr) == 1:
        op = expr["operator"]
        ops = op["operands"]
        if op["type"] == "property_accessor":
            fixed = _reassociate(op)
            if fixed is not None:
                return evaluate(fixed, scope)
            return evaluate(ops["operand_1"], scope)[ops["operand_2"]]
        if op["type"] == "index_accessor":
            return evaluate(ops["operand_1"], scope)[evaluate(ops["operand_2"], scope)]
        if op["type"] == "equals":
            lifted = _lift_conditional(op)
            if lifted is not None:
                return evaluate(lifted, scope)
            return evaluate(ops["operand_1"], scope) == evaluate(ops["operand_2"], scope)
        if op["type"] == "not":
            return not evaluate(ops["bool_value"], scope)
        if op["type"] == "conditional":
            branch = "true_value" if evaluate(ops["condition"], scope) else "false_value"
            return evaluate(ops[branch], scope)
        raise NotImplementedError(op["type"])
    if "function" in expr and len(expr) == 1:
        fn = expr["function"]
        args = list(fn["parameters"].values())
        name = fn["type"]
        if name in ("map", "filter"):
            items = evaluate(args[0], scope)
            lam = args[1]["detail"]
            results = [evaluate(lam["expression"], {**scope, lam["var_1"]: item}) for item in items]
            return results if name == "map" else [i for i, keep in zip(items, results, strict=True) if keep]
        if name == "flatten":
            return [x for part in evaluate(args[0], scope) for x in part]
        if name == "concat":
            return [x for a in args for x in evaluate(a, scope)]
        if name == "union":
            out: list[Any] = []  # ARM's union keeps each value once
            for a in args:
                for x in evaluate(a, scope):
                    if x not in out:
                        out.append(x)
            return out
        if name == "empty":
            return not evaluate(args[0], scope)
        if name == "trim":
            return evaluate(args[0], scope).strip()
        if name == "split":
            return evaluate(args[0], scope).split(evaluate(args[1], scope))
        raise NotImplementedError(name)
    return {k.strip("'"): evaluate(v, scope) for k, v in expr.items()}
