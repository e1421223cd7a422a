"""The command layer: core.py (the table, running a command: queues, limits,
permissions), base.py (Invocation, Reply, Command and its typed Args), and one module per
topic: watches.py, feeds.py, chat.py."""

from bot.commands.base import Arg, Command, Invocation, Reply, UsageError, around_column, sorry
from bot.commands.core import Commands

__all__ = ["Arg", "Command", "Commands", "Invocation", "Reply", "UsageError", "around_column", "sorry"]
