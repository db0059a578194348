"""The ``sluice`` command: thin wrappers that parse arguments and print results."""
