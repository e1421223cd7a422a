"""tipoff: watches news feeds and tips people off in their chats."""

__version__ = "0.1.0"
