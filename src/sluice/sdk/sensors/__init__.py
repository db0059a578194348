"""The built-in sensors: tasks that wait until something is true."""
