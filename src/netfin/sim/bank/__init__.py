"""netfin.sim.bank: a synthetic bank that streams labelled payment events for risk control.

Why: risk features, rules and models need months of realistic payments with
known fraud, at the scale of a real bank, and no bank can share its own. This
package draws a population of persons and small businesses around Chinese
cities and counties, lets them live (salaries, rent, bills, shopping by
merchant category, P2P among friends, remittances, BNPL, top-ups and
cash-outs), calibrated on PaySim's tables from real mobile-money logs, and
injects five labelled fraud scenarios.

Invariants:

- Deterministic: the same ``BankConfig`` yields the same stream, byte for
  byte; ids (``c0000042``, ``b…``, ``m…``, ``u…``, ``x…``, ``d…``) are stable
  for a seed. No global random state.
- Every batch has exactly ``netfin.risk.events.EVENT_SCHEMA``; ``(ts_ms, seq)``
  strictly increases and ``seq`` counts 0..N-1 over the run.
- Money is integer fen (CNY); ``label`` is 1 exactly on scenario events.
- Memory is bounded by one day of events plus compact per-customer arrays.
- Legitimate customers are noisy on purpose (``NoiseRates``): they switch
  phones, make large first payments, work nights, travel and tap through
  bursts of small payments, so no fraud scenario is separable by one signal.

Public names: BankConfig, ScenarioRates, NoiseRates, START_MS_DEFAULT, generate,
iter_events, write_parquet, WriteSummary, Calibration, load_calibration,
default_calibration, KIND_ACTION, KIND_SCALE, PaySimAction, Population,
build_population, BankRun.
"""

from netfin.sim.bank.calibration import (
    KIND_ACTION,
    KIND_SCALE,
    Calibration,
    PaySimAction,
    default_calibration,
    load_calibration,
)
from netfin.sim.bank.config import START_MS_DEFAULT, BankConfig, NoiseRates, ScenarioRates
from netfin.sim.bank.parquet import WriteSummary, write_parquet
from netfin.sim.bank.population import Population, build_population
from netfin.sim.bank.stream import BankRun, generate, iter_events

__all__ = [
    "KIND_ACTION",
    "KIND_SCALE",
    "START_MS_DEFAULT",
    "BankConfig",
    "BankRun",
    "Calibration",
    "NoiseRates",
    "PaySimAction",
    "Population",
    "ScenarioRates",
    "WriteSummary",
    "build_population",
    "default_calibration",
    "generate",
    "iter_events",
    "load_calibration",
    "write_parquet",
]
