"""Example pipelines shipped with the package, one per file (see docs/concepts.md)."""
