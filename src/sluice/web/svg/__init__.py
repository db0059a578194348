"""Server-side SVG drawings: pure functions from plain data to an SVG string.

Every text that reaches a drawing (task ids, labels, tooltips) is escaped with
``markupsafe.escape``: these strings end up inside pages as markup.
"""
