"""The ``lineguard`` command line: one click group whose subcommands load lazily."""
