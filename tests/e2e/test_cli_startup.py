"""The ``netfin`` command imports a sub-command's module only when that sub-command runs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.main import get_group
from typer.testing import CliRunner

from netfin.cli.lazy import COMMANDS, load
from netfin.cli.main import app

# What the whole bank drags in; a ledger command needs none of it.
HEAVY = ("netfin.bank", "netfin.api.app", "lightgbm", "sklearn", "igraph", "pypinyin", "QuantLib", "pandas")


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (which must not print)."""
    probe = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(result.stdout.split())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_lazy_command_has_the_help_it_is_listed_with(name: str) -> None:
    command = load(name)
    assert command.name == name
    assert (command.help or "").split("\n\n")[0].strip() == COMMANDS[name].help


def test_the_help_page_lists_every_command_and_imports_none_of_them() -> None:
    code = (
        "from typer.testing import CliRunner\nfrom netfin.cli.main import app\n"
        "result = CliRunner().invoke(app, ['--help'], terminal_width=200)\n"
        "assert result.exit_code == 0, result.output\n"
        f"assert all(name in result.output for name in {sorted(COMMANDS)!r}), result.output"
    )
    loaded = _modules_after(code)
    assert "netfin.cli.main" in loaded
    assert not {entry.module for entry in COMMANDS.values()} & loaded
    assert not set(HEAVY) & loaded


def test_a_ledger_command_runs_without_the_bank() -> None:
    code = (
        "import tempfile\nfrom typer.testing import CliRunner\nfrom netfin.cli.main import app\n"
        "url = 'sqlite:///' + tempfile.mkdtemp() + '/ledger.db'\n"
        "result = CliRunner().invoke(app, ['ledger', 'verify', '--db', url, '--json'])\n"
        "assert result.exit_code == 0 and '\"ok\": true' in result.output, result.output"
    )
    loaded = _modules_after(code)
    assert "netfin.ledger" in loaded
    assert not set(HEAVY) & loaded


def test_a_lazy_command_runs_when_called() -> None:
    result = CliRunner().invoke(app, ["serve", "--http", "h2"])
    assert result.exit_code == 2
    assert "serve_option_invalid" in result.output


def test_a_mistyped_command_is_answered_with_the_nearest_names() -> None:
    result = CliRunner().invoke(app, ["ris"])
    assert result.exit_code == 2
    assert "No such command 'ris'" in result.output and "'risk'" in result.output
    result = CliRunner().invoke(app, ["ledgr"])
    assert "'ledger'" in result.output


def test_the_root_group_is_the_lazy_one() -> None:
    group = get_group(app)
    assert set(COMMANDS) <= set(group.list_commands(None))
