"""Who may do what in the web UI and the REST API: four roles, as in Airflow.

Each role is a set of permissions; every page and endpoint names the permission it
needs, and the server checks it.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """What an action needs."""

    READ = "read"
    """See DAGs, runs, task instances, logs, XCom, the audit log."""
    OPERATE_DAGS = "operate_dags"
    """Trigger, clear, mark, pause and delete DAGs and their runs."""
    EDIT_GLOBAL = "edit_global"
    """Variables, connections, pools, the configuration page."""
    MANAGE_USERS = "manage_users"
    """Create, change and delete users."""


class Role(StrEnum):
    """A user's role."""

    ADMIN = "Admin"
    OP = "Op"
    USER = "User"
    VIEWER = "Viewer"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(P),
    Role.OP: frozenset({P.READ, P.OPERATE_DAGS, P.EDIT_GLOBAL}),
    Role.USER: frozenset({P.READ, P.OPERATE_DAGS}),
    Role.VIEWER: frozenset({P.READ}),
}


PERMISSION_WORDS = {
    Permission.READ: "to see DAGs and runs",
    Permission.OPERATE_DAGS: (
        "to trigger, clear, mark, pause or delete DAGs and runs (roles User, Op, Admin)"
    ),
    Permission.EDIT_GLOBAL: (
        "for Variables, Connections, Pools and the configuration (roles Op, Admin)"
    ),
    Permission.MANAGE_USERS: "to manage users (role Admin)",
}
"""What each permission lets a user do, for refusals."""


def parse_role(text: str) -> Role:
    """The role named ``text`` (any case); ValueError names the roles there are."""
    for role in Role:
        if role.value.lower() == text.strip().lower():
            return role
    raise ValueError(f"unknown role {text!r}; the roles are {', '.join(r.value for r in Role)}")


def allows(role: str, permission: Permission) -> bool:
    """Whether a user with ``role`` has ``permission`` (an unknown role has none)."""
    try:
        return permission in ROLE_PERMISSIONS[parse_role(role)]
    except ValueError:
        return False
