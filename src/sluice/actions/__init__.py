"""What a person does to the metadata database, from the CLI, the UI or the REST API.

Triggering a run, pausing and unpausing (with the catchup guard), clearing and marking
task instances, deleting a DAG: each is one function here, so that the three front ends
check the same things, write the same rows and say the same errors. They read the
serialized DAG (never a DAG file) and write states through ``sluice.store.transitions``.
"""
