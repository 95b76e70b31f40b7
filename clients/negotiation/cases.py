"""Negotiation cases: the agents, the grid they sit on, the line limits and the method's parameters.

A case is a JSON file (cases/paper.json, cases/congested.json ship with the package):

    {"name": "paper", "description": "...", "grid": "ieee14",
     "agents": "paper" | [{"name": "S1", "bus": 2, "kind": "producer", "a": 0.04, "b": 1,
                           "p_min": 1, "p_max": 7}, ...],
     "line_limits_kw": {"7-8": 4.5},
     "params": {"alpha": 0.05, ...}}

"agents": "paper" means Li et al.'s agent table (agents.PAPER_AGENTS). Branches missing from
"line_limits_kw" are unlimited. "params" overrides algorithm.Params' defaults field by field.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .agents import CONSUMER, PAPER_AGENTS, PRODUCER, Agent, by_name
from .grid import GRIDS, IEEE14
from .params import Params

CASES_DIR = Path(__file__).parent / "cases"
BUILT_IN = ("paper", "congested")


@dataclass(frozen=True)
class Case:
    """Everything a negotiation run needs, and nothing private to one agent's process."""

    name: str
    agents: tuple[Agent, ...]
    grid: str = IEEE14
    line_limits: dict[str, float] = field(default_factory=dict)  # kW per named branch
    params: Params = field(default_factory=Params)
    description: str = ""

    def __post_init__(self) -> None:
        by_name(self.agents)
        if not any(agent.is_producer for agent in self.agents) or all(
            agent.is_producer for agent in self.agents
        ):
            raise ValueError(f"case {self.name}: needs at least one producer and one consumer")
        if self.grid not in GRIDS:
            raise ValueError(f"case {self.name}: unknown grid {self.grid!r}")
        for line, limit in self.line_limits.items():
            if not (limit > 0 and math.isfinite(limit)):
                raise ValueError(f"case {self.name}: line {line} limit must be a positive number of kW")


def load_case(name_or_path: str | Path) -> Case:
    """A built-in case by name ("paper", "congested") or a case JSON file by path."""
    text = str(name_or_path)
    path = CASES_DIR / f"{text}.json" if text in BUILT_IN else Path(text)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no case {text!r}: give {' or '.join(BUILT_IN)} or a case JSON file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"case file {path} is not JSON: {exc.msg} (line {exc.lineno})") from None
    return case_from_dict(raw, default_name=path.stem)


def case_from_dict(raw: Any, default_name: str = "case") -> Case:
    """Build a Case from its JSON form; ValueError naming the field on anything malformed."""
    if not isinstance(raw, dict):
        raise ValueError("a case must be a JSON object")
    agents_raw = raw.get("agents", "paper")
    if agents_raw == "paper":
        agents = PAPER_AGENTS
    elif isinstance(agents_raw, list):
        agents = tuple(_agent(item, index) for index, item in enumerate(agents_raw))
    else:
        raise ValueError('case field "agents" must be "paper" or a list of agents')
    limits_raw = raw.get("line_limits_kw", {})
    if not isinstance(limits_raw, dict):
        raise ValueError('case field "line_limits_kw" must be an object {"from-to": kW}')
    limits = {str(line): _number(limit, f"line_limits_kw.{line}") for line, limit in limits_raw.items()}
    return Case(
        name=str(raw.get("name", default_name)),
        agents=agents,
        grid=str(raw.get("grid", IEEE14)),
        line_limits=limits,
        params=_params(raw.get("params", {})),
        description=str(raw.get("description", "")),
    )


def _agent(item: Any, index: int) -> Agent:
    if not isinstance(item, dict):
        raise ValueError(f"agents[{index}] must be an object")
    try:
        return Agent(
            name=str(item["name"]),
            bus=int(item["bus"]),
            kind=item["kind"],
            a=_number(item["a"], f"agents[{index}].a"),
            b=_number(item["b"], f"agents[{index}].b"),
            p_min=_number(item["p_min"], f"agents[{index}].p_min"),
            p_max=_number(item["p_max"], f"agents[{index}].p_max"),
        )
    except KeyError as exc:
        raise ValueError(f"agents[{index}] lacks field {exc.args[0]!r}") from None


def _params(raw: Any) -> Params:
    if not isinstance(raw, dict):
        raise ValueError('case field "params" must be an object')
    known = {f.name: f.type for f in fields(Params)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ValueError(f"unknown params: {', '.join(unknown)} (known: {', '.join(known)})")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        values[key] = int(value) if key == "max_iterations" else _number(value, f"params.{key}")
    return Params(**values)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"case field {where} must be a finite number, not {value!r}")
    return float(value)


def synthetic_case(count: int, seed: int = 0, line_limits: dict[str, float] | None = None) -> Case:
    """`count` agents drawn like the paper's, for scaling runs (Li et al. section 5.4: 7, 20, 50).

    The paper's generator did not survive, so (choice, METHOD.md) producers and consumers come in
    the agent table's 4:3 ratio, with a, b and bounds drawn uniformly from the table's ranges
    (producers a 0.04-0.05, b 1, 1 kW to 4-7 kW; consumers a 0.05-0.056, b 3, 6-8 kW to 1 kW),
    on IEEE 14-bus buses 2-14 drawn uniformly. Same count and seed, same case.
    """
    if count < 2:
        raise ValueError("a synthetic case needs at least 2 agents")
    rng = random.Random(seed)
    producers = max(1, min(count - 1, round(count * 4 / 7)))
    agents = []
    for index in range(count):
        bus = rng.randint(2, 14)
        if index < producers:
            agents.append(Agent(f"S{index + 1}", bus, PRODUCER, round(rng.uniform(0.04, 0.05), 4),
                                1.0, 1.0, round(rng.uniform(4.0, 7.0), 2)))
        else:
            agents.append(Agent(f"B{index - producers + 1}", bus, CONSUMER,
                                round(rng.uniform(0.05, 0.056), 4), 3.0,
                                -round(rng.uniform(6.0, 8.0), 2), -1.0))
    return Case(
        name=f"synthetic-{count}-{seed}",
        agents=tuple(agents),
        line_limits=dict(line_limits or {}),
        description=f"{count} agents drawn like the paper's (seed {seed})",
    )
