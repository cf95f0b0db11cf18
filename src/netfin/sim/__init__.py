"""netfin.sim: a synthetic bank for the demo, the tests and the benchmarks.

For now it simulates one business day on the ledger (``simulate_day``):
salaries, shopping with card holds that are captured or voided, P2P
payments, bill payments, and customers who try to spend more than they hold.
Deterministic by seed. Every money movement goes through ``Ledger``.
"""

from netfin.sim.day import DaySummary, simulate_day

__all__ = ["DaySummary", "simulate_day"]
