"""The web UI: server-rendered pages (Jinja2, htmx, SVG drawn on the server).

It reads the store and serialized DAGs, acts through ``sluice.actions``, and never
imports a user's DAG file. ``sluice.web.app.create_app`` builds the whole application,
pages and REST API together.
"""
