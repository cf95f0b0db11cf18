"""netfin's own API for customers and staff, under /v1."""
