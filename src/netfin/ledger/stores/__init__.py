"""The two ledger stores: SQLite (embedded default) and PostgreSQL."""
