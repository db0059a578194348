"""Hooks: how tasks talk to outside systems through a connection."""
