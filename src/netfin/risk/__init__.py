"""Real-time risk control: behavioural features, rules, a trained model and decisions with reasons.

``events`` is the one shape a payment takes on its way into risk, shared by
the synthetic bank, the feature engine, the rules, the model and the
decision store.
"""
