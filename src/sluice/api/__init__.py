"""The REST API (``/api/v1``) and what the web pages share with it: the request's user,
roles, CSRF, the database session per request, and errors as problem+json.

It reads the store and serialized DAGs; it never imports a user's DAG file.
"""
