"""The scheduler: runs from timetables, readiness, queuing, retries, recovery."""
