"""Authoring: DAGs, operators, trigger rules and the readiness function."""
