"""netfin.cli: the ``netfin`` command (Typer). Thin: parse, call a service, print."""
