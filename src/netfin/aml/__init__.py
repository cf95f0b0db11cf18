"""Anti-money-laundering and supervision (MISSION.md S1, S2, S3).

Sub-packages:

- ``monitoring``: scenarios (structuring, pass-through, fan-in/fan-out,
  round-tripping, dormant reactivation, high-risk corridors, large value),
  each a versioned configuration, run per event on the outbox stream and in
  batch over history;
- ``graph``: the transaction graph (python-igraph) behind an engine-neutral
  interface: bounded cycle search, components, communities, scatter-gather;
- ``screening``: sanctions and PEP lists, name normalisation, candidate
  retrieval and scoring;
- ``cases``: alerts grouped per customer into cases, four-eyes decisions,
  SLA ageing, every step audited;
- ``reports``: large-value and suspicious transaction reports (XML, validated
  against their schemas);
- ``ownership``: the ownership graph and ultimate beneficial owners;
- ``news``: headlines linked to customers, sentiment and early warnings.

Invariants: AML never moves money and is never on a payment's synchronous
path, except screening of a cross-border counterparty; every threshold lives
in configuration; every change of an alert or a case is audited.
"""
