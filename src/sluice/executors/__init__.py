"""How task instances reach a runner: sequential, local processes, Celery."""
