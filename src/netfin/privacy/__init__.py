"""Privacy computing: multi-party protocols between separate processes.

Private set intersection, vertical federated boosting and horizontal federated
learning; each party a process of its own that talks only over the network.
"""
