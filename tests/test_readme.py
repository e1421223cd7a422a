"""The README's quick start is an interface: CI must run exactly its two commands."""

import re

from tests.conftest import PROJECT


def quick_start_commands() -> list[str]:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_is_two_commands_and_ci_runs_both():
    commands = quick_start_commands()
    assert len(commands) == 2
    ci = (PROJECT / ".ci" / "run").read_text()
    for command in commands:
        assert command in ci.splitlines(), f"CI does not run the README's command: {command}"
    assert "pytest" in commands[1] and "demo.toml" in commands[0]
