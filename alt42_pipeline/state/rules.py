"""Declarative scenario rules: loading (strict, with line numbers) and vectorised evaluation.

The rule file (``scenarios.yaml`` next to this module unless another path is given) is
checked completely at load time; any problem raises :class:`RuleFileError` naming the
file, the line and the rule, so a bad deployment fails before its first heartbeat.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..redaction import shown

DEFAULT_FILE = Path(__file__).with_name("scenarios.yaml")

#: The inputs a rule may test; the refresh computes each of them for every student.
METRICS = (
    "recent_accuracy",
    "recent_attempts",
    "recent_events",
    "recent_active_days",
    "days_since_activity",
    "theta",
    "theta_se",
)
OPERATORS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*(<=|>=|==|!=|<|>)[ \t]*(\S+)[ \t]*")
_RULE_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")  # matched whole: no trailing newline
_RULE_KEYS = {"id", "description", "when", "at_risk", "override"}


class RuleFileError(ValueError):
    """A rule file that cannot be used; the message names the file, line and rule."""


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: float

    def holds(self, metrics: pd.DataFrame) -> np.ndarray:
        values = metrics[self.metric].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return OPERATORS[self.op](values, self.value) & ~np.isnan(values)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    when: tuple[Condition, ...]
    at_risk: bool
    line: int
    #: an at-risk rule that puts a student in at_risk even when the risk model does not
    #: (otherwise, once the student has a risk score, the rule only explains)
    override: bool = False

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.metric for c in self.when))

    def fires(self, metrics: pd.DataFrame) -> np.ndarray:
        result = np.ones(len(metrics), dtype=bool)
        for condition in self.when:
            result &= condition.holds(metrics)
        return result


@dataclass(frozen=True)
class RuleSet:
    version: int
    rules: tuple[Rule, ...]
    source: str

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    @property
    def at_risk_ids(self) -> list[str]:
        return [r.id for r in self.rules if r.at_risk]

    @property
    def override_ids(self) -> list[str]:
        return [r.id for r in self.rules if r.at_risk and r.override]

    def evaluate(self, metrics: pd.DataFrame) -> pd.DataFrame:
        """One boolean column per rule id: does the rule fire for each student (row)?"""
        return pd.DataFrame({r.id: r.fires(metrics) for r in self.rules}, index=metrics.index)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load and check a rule file; raise :class:`RuleFileError` on the first problem."""
    path = Path(path) if path else DEFAULT_FILE
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleFileError(f"{path}: cannot read the rule file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RuleFileError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}, line {line}); "
            "save the rule file as UTF-8"
        ) from None
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise RuleFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(root, yaml.MappingNode):
        raise RuleFileError(f"{source}:1: the rule file must be a mapping with 'version' and 'rules'")
    top = _mapping(root, source)
    unknown = set(top) - {"version", "rules"}
    if unknown:
        key = sorted(unknown)[0]
        raise RuleFileError(f"{source}:{_line(top[key][0])}: unknown top-level key {shown(key)}")
    if "version" not in top:
        raise RuleFileError(f"{source}:1: missing 'version' (an integer bumped on every rule change)")
    version = _scalar(top["version"][1])
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RuleFileError(f"{source}:{_line(top['version'][1])}: 'version' must be a positive integer")
    if "rules" not in top or not isinstance(top["rules"][1], yaml.SequenceNode) or not top["rules"][1].value:
        line = _line(top["rules"][1]) if "rules" in top else 1
        raise RuleFileError(f"{source}:{line}: 'rules' must be a non-empty list")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, node in enumerate(top["rules"][1].value):
        rule = _rule(node, index, source)
        if rule.id in seen:
            raise RuleFileError(
                f"{source}:{rule.line}: rule {rule.id!r}: duplicate id (first defined on line {seen[rule.id]})"
            )
        seen[rule.id] = rule.line
        rules.append(rule)
    return RuleSet(version=version, rules=tuple(rules), source=source)


def _rule(node: yaml.Node, index: int, source: str) -> Rule:
    line = _line(node)
    if not isinstance(node, yaml.MappingNode):
        raise RuleFileError(f"{source}:{line}: rule #{index + 1}: must be a mapping with id, when, at_risk")
    fields = _mapping(node, source)
    rule_id = _scalar(fields["id"][1]) if "id" in fields else None
    name = f"rule {shown(rule_id)}" if isinstance(rule_id, str) else f"rule #{index + 1}"

    def fail(at: yaml.Node, message: str) -> RuleFileError:
        return RuleFileError(f"{source}:{_line(at)}: {name}: {message}")

    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        raise fail(
            fields["id"][1] if "id" in fields else node,
            "'id' must be lower_snake_case (a-z, 0-9, _; at most 64 characters)",
        )
    for key, (key_node, _) in fields.items():
        if key not in _RULE_KEYS:
            raise fail(key_node, f"unknown key {shown(key)} (allowed: {', '.join(sorted(_RULE_KEYS))})")
    description = _scalar(fields["description"][1]) if "description" in fields else ""
    if not isinstance(description, str):
        raise fail(fields["description"][1], "'description' must be text")
    if "at_risk" not in fields or not isinstance(_scalar(fields["at_risk"][1]), bool):
        raise fail(fields["at_risk"][1] if "at_risk" in fields else node, "'at_risk' must be true or false")
    if "override" in fields and not isinstance(_scalar(fields["override"][1]), bool):
        raise fail(fields["override"][1], "'override' must be true or false")
    when = fields.get("when")
    if when is None or not isinstance(when[1], yaml.SequenceNode) or not when[1].value:
        raise fail(when[1] if when else node, "'when' must be a non-empty list of conditions")
    conditions = tuple(_condition(c, fail) for c in when[1].value)
    return Rule(
        id=rule_id,
        description=description,
        when=conditions,
        at_risk=_scalar(fields["at_risk"][1]),
        line=line,
        override=bool(_scalar(fields["override"][1])) if "override" in fields else False,
    )


def _condition(node: yaml.Node, fail: Callable[[yaml.Node, str], RuleFileError]) -> Condition:
    text = node.value if isinstance(node, yaml.ScalarNode) else None
    match = _CONDITION.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise fail(node, f"condition {shown(text)} is not '<metric> <op> <number>' (op: {' '.join(OPERATORS)})")
    metric, op, raw = match.groups()
    if metric not in METRICS:
        raise fail(node, f"unknown metric {shown(metric)} (known: {', '.join(METRICS)})")
    try:
        value = float(raw)
    except ValueError:
        raise fail(node, f"{shown(raw)} in {shown(text)} is not a number") from None
    if not np.isfinite(value):
        raise fail(node, f"{shown(raw)} in {shown(text)} is not a finite number")
    return Condition(metric, op, value)


def _mapping(node: yaml.MappingNode, source: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
        if key in out:
            raise RuleFileError(f"{source}:{_line(key_node)}: key {shown(key)} given twice")
        out[key] = (key_node, value_node)
    return out


def _scalar(node: yaml.Node):
    """The Python value of a scalar node (YAML's safe typing), or None for other nodes."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    return yaml.SafeLoader("").construct_object(node)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1
