"""AML monitoring: scenarios from a versioned profile, per event and in batch.

- ``model``: ``Txn`` (one movement between two accounts, integer minor
  units) and its Arrow schema, ``AccountFacts``, ``Alert``;
- ``config``: profiles (YAML): every scenario's kind, parameters, severity
  and reason texts; the default follows the PBoC's large-value and
  suspicious transaction rules;
- ``stream``: ``StreamMonitor``, every scenario per transaction from
  bounded in-process state;
- ``cycles``: round-tripping found as each transfer closes a cycle, with a
  stated bound per event;
- ``batch``: the same scenarios over history (sharded over processes), with
  cycles and graph typologies from ``netfin.aml.graph``.

Invariants: transactions are observed in time order; money is integer minor
units; every threshold comes from the profile; an alert names its scenario,
the scenario's version and the profile's version.
"""
