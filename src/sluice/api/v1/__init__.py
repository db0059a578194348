"""The REST API's routers, mounted under /api/v1."""
