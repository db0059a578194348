"""Finding and importing DAG files, import errors, cycle checks, serializing DAGs."""
