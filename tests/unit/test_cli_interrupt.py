"""Ctrl-C ends `sawgrid` quietly wherever it lands, start-up included."""
from __future__ import annotations

import ast
from pathlib import Path

from sawgrid.clients.cli import main as cli_main


def test_an_interrupt_while_the_parser_is_built_exits_130_quietly(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "build_parser", interrupted)
    assert cli_main.main(["--help"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_the_entry_module_imports_nothing_of_sawgrid_at_load_time():
    """The console script imports this module before `main` runs: a Ctrl-C
    while Sawgrid's libraries load must fall inside `main`'s handler."""
    tree = ast.parse(Path(cli_main.__file__).read_text())
    top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = [n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in top_level]
    assert not [name for name in names if name and name.startswith("sawgrid")], names
