"""Load a rule set from YAML: validate strictly, compile every expression once, or refuse.

Rules are written by analysts and deployed without a code release, so the
loader is the last reviewer before a rule touches a payment. It refuses
unknown keys (a misspelt ``enabeld: false`` must not leave a rule on),
duplicate keys and codes, unknown actions, expressions that do not compile,
read a name outside the agreed variables, call a function outside the CEL
standard library, or fail to type-check against sample values. It reports
every problem at once, each naming its rule.

Expressions are CEL (``common-expression-language``), compiled here and only
executed later; nothing is ever passed to Python's ``eval``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import cel
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netfin.core import yamltext
from netfin.risk.rules.errors import RuleSetInvalid
from netfin.risk.rules.model import Action, Rule, RuleHit, RuleSet
from netfin.risk.rules.variables import DEFAULT_VARIABLES

RULESET_BYTES_MAX = 1_048_576
RULES_MAX = 500
EXPRESSION_CHARS_MAX = 2_000
LISTS_MAX = 50
LIST_ITEMS_MAX = 5_000
DESCRIPTION_CHARS_MAX = 500

DEFAULT_RULESET_PATH = Path(__file__).resolve().parent.parent / "rulesets" / "default.yaml"

_CODE_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

# The CEL standard functions a rule may call. Operators appear as ``_+_``,
# ``!_``, ``@in`` and are always allowed; anything else (``timestamp``, a
# misspelt ``sise``) would only fail at run time, so it is refused at load.
_FUNCTIONS_ALLOWED = frozenset(
    {"size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string", "min", "max"}
)

# Sample values used to type-check an expression before it goes live. CEL
# does not coerce (``int * double`` is an error), and such a rule would error
# on every event; trying it once with values of the declared types finds that.
_SAMPLES: Mapping[type, object] = {int: 1, float: 1.0, str: "", bool: True, list: []}
_TYPE_ERRORS = (TypeError,)
_VALUE_ERRORS = (ValueError, RuntimeError, ArithmeticError, LookupError)


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    code: str = Field(pattern=_CODE_PATTERN, max_length=64)
    description: str = Field(min_length=1, max_length=DESCRIPTION_CHARS_MAX)
    description_zh: str = Field(min_length=1, max_length=DESCRIPTION_CHARS_MAX)
    when: str = Field(min_length=1, max_length=EXPRESSION_CHARS_MAX)
    action: Literal["approve", "step_up", "review", "decline"]
    score: float = Field(default=0.0, ge=0.0, le=1.0)
    enabled: bool = True
    segments: list[str] | None = Field(default=None, min_length=1)


class _RuleSetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=64)
    lists: dict[str, list[str] | list[int] | list[float]] = Field(default_factory=dict, max_length=LISTS_MAX)
    rules: list[_RuleSpec] = Field(min_length=1, max_length=RULES_MAX)


def load_ruleset(path: str | Path, *, variables: Mapping[str, type] | None = None) -> RuleSet:
    """Read, validate and compile the rule set at ``path``; raise ``RuleSetInvalid`` if it is unusable."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(RULESET_BYTES_MAX + 1)
    except OSError as error:
        raise RuleSetInvalid(source, [f"cannot be read: {error}"]) from error
    return parse_ruleset(data, source=source, variables=variables)


def load_default_ruleset(*, variables: Mapping[str, type] | None = None) -> RuleSet:
    """The rule set shipped with netfin (``risk/rulesets/default.yaml``)."""
    return load_ruleset(DEFAULT_RULESET_PATH, variables=variables)


def parse_ruleset(
    data: bytes, *, source: str = "<memory>", variables: Mapping[str, type] | None = None
) -> RuleSet:
    """Validate and compile a rule set from the file's bytes; the bytes' SHA-256 becomes its identity."""
    allowed = DEFAULT_VARIABLES if variables is None else variables
    if len(data) > RULESET_BYTES_MAX:
        raise RuleSetInvalid(source, [f"is larger than {RULESET_BYTES_MAX} bytes"])
    raw = _parse_yaml(data, source)
    try:
        spec = _RuleSetSpec.model_validate(raw)
    except ValidationError as error:
        raise RuleSetInvalid(source, _describe_validation(error, raw)) from error
    rules = _compile_rules(spec, allowed, source)
    return RuleSet(
        name=spec.name,
        version=spec.version,
        sha256=hashlib.sha256(data).hexdigest(),
        source=source,
        rules=rules,
        lists={name: tuple(values) for name, values in spec.lists.items()},
        reads=tuple(sorted({name for rule in rules for name in rule.names})),
    )


def _parse_yaml(data: bytes, source: str) -> object:
    """Safe-load YAML, refusing duplicate keys, which PyYAML would otherwise silently overwrite."""
    try:
        text = data.decode("utf-8")
        root = yamltext.compose(text)
        duplicates = _duplicate_keys(root)
        if duplicates:
            raise RuleSetInvalid(source, duplicates)
        return yamltext.safe_load(text)
    except UnicodeDecodeError as error:
        raise RuleSetInvalid(source, [f"is not UTF-8: {error}"]) from error
    except yaml.YAMLError as error:
        raise RuleSetInvalid(source, [f"is not valid YAML: {error}"]) from error


def _duplicate_keys(node: Any) -> list[str]:
    """Every mapping key that appears twice in the same mapping, with its line."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = getattr(key_node, "value", None)
            if isinstance(key, str):
                if key in seen:
                    problems.append(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
                seen.add(key)
            problems.extend(_duplicate_keys(value_node))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems.extend(_duplicate_keys(item))
    return problems


def _describe_validation(error: ValidationError, raw: object) -> list[str]:
    """Pydantic's errors, with ``rules.3.action`` turned into the rule's own code."""
    problems = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        where = ".".join(location) or "top level"
        if len(location) >= 2 and location[0] == "rules" and location[1].isdigit():
            index = int(location[1])
            field = ".".join(location[2:]) or "rule"
            where = f"{_rule_label(raw, index)}: {field}"
        problems.append(f"{where}: {item['msg']}")
    return problems


def _rule_label(raw: object, index: int) -> str:
    """``rule 'code' (rules[3])`` when the raw rule has a code, else just its position."""
    rules = raw.get("rules") if isinstance(raw, dict) else None
    code = None
    if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
        code = rules[index].get("code")
    return f"rule {code!r} (rules[{index}])" if isinstance(code, str) else f"rules[{index}]"


def _compile_rules(spec: _RuleSetSpec, variables: Mapping[str, type], source: str) -> tuple[Rule, ...]:
    """Compile every rule, collecting every problem before refusing, so one edit fixes them all."""
    problems = _list_problems(spec, variables)
    constants = {name: tuple(values) for name, values in spec.lists.items()}
    first_index: dict[str, int] = {}
    rules: list[Rule] = []
    for index, rule_spec in enumerate(spec.rules):
        label = f"rule {rule_spec.code!r} (rules[{index}])"
        if rule_spec.code in first_index:
            problems.append(f"{label}: duplicate code, first used by rules[{first_index[rule_spec.code]}]")
        first_index.setdefault(rule_spec.code, index)
        rule, rule_problems = _compile_rule(rule_spec, variables, constants)
        problems.extend(f"{label}: {problem}" for problem in rule_problems)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise RuleSetInvalid(source, problems)
    return tuple(rules)


def _list_problems(spec: _RuleSetSpec, variables: Mapping[str, type]) -> list[str]:
    """Named lists are identifiers of their own; one that shadows a variable would be ambiguous."""
    problems = []
    for name, values in spec.lists.items():
        if not _IDENTIFIER.match(name):
            problems.append(f"list {name!r}: name must be a snake_case identifier")
        if name in variables:
            problems.append(f"list {name!r}: name is already a variable")
        if len(values) > LIST_ITEMS_MAX:
            problems.append(f"list {name!r}: more than {LIST_ITEMS_MAX} items")
    return problems


def _compile_rule(
    spec: _RuleSpec, variables: Mapping[str, type], constants: Mapping[str, tuple[object, ...]]
) -> tuple[Rule | None, list[str]]:
    """One rule compiled and checked, or the reasons it cannot be."""
    try:
        program = cel.compile(spec.when)
    except (ValueError, RuntimeError, TypeError) as error:
        return None, [f"`when` does not compile: {error}"]
    references = program.references()
    names: list[str] = list(references["variables"])
    problems = []
    unknown = [name for name in names if name not in variables and name not in constants]
    if unknown:
        problems.append(
            f"`when` reads unknown name(s) {', '.join(unknown)}"
            " (a macro's bound name counts too: write `x in list`, not `list.exists(...)`)"
        )
    functions = [name for name in references["functions"] if not _is_allowed_function(name)]
    if functions:
        problems.append(f"`when` calls function(s) outside the CEL standard set: {', '.join(functions)}")
    if problems:
        return None, problems
    rule_constants = {name: constants[name] for name in names if name in constants}
    reads = tuple(name for name in names if name not in constants)
    problems = _trial_problems(program, reads, variables, rule_constants)
    if problems:
        return None, problems
    return _build_rule(spec, program, reads, rule_constants), []


def _is_allowed_function(name: str) -> bool:
    return name.startswith(("_", "@", "!")) or name in _FUNCTIONS_ALLOWED


def _trial_problems(
    program: Any,
    reads: tuple[str, ...],
    variables: Mapping[str, type],
    constants: Mapping[str, tuple[object, ...]],
) -> list[str]:
    """Run the expression on sample values (booleans all true, then all false) to catch type errors.

    Only a ``TypeError`` (no such overload) is a defect of the expression; a
    division by zero or an index out of range depends on the values and is
    left for run time, where it is recorded as a rule error.
    """
    if any(variables[name] not in _SAMPLES for name in reads):
        return []  # a caller-defined type we cannot sample; run time will tell
    base = {name: _SAMPLES[variables[name]] for name in reads} | dict(constants)
    for flag in (True, False):
        context = base | {name: flag for name in reads if variables[name] is bool}
        try:
            result = program.execute(context)
        except _TYPE_ERRORS as error:
            return [f"`when` does not type-check: {error}"]
        except _VALUE_ERRORS:
            continue
        if not isinstance(result, bool):
            return [f"`when` must be true or false, not {type(result).__name__}"]
    return []


def _build_rule(
    spec: _RuleSpec, program: Any, reads: tuple[str, ...], constants: Mapping[str, tuple[object, ...]]
) -> Rule:
    action = Action(spec.action)
    return Rule(
        code=spec.code,
        description=spec.description,
        description_zh=spec.description_zh,
        when=spec.when,
        action=action,
        score=spec.score,
        enabled=spec.enabled,
        segments=None if spec.segments is None else frozenset(spec.segments),
        program=program,
        names=reads,
        constants=constants,
        hit=RuleHit(spec.code, action, spec.score, spec.description, spec.description_zh),
    )
