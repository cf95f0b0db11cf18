"""End-to-end tests: the HTTP API, the command line and the browser."""
