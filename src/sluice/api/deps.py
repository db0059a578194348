"""The dependencies endpoints and pages name in their signatures.

``session: DbSession`` is the request's database transaction; ``user: Reader`` (or
``Operator``, ``Editor``, ``UserAdmin``) is the logged-in user, refused with 401 or 403
before the endpoint runs unless their role has that permission.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from sluice.api.context import AppContext, context, db
from sluice.api.pagination import PageRequest, page_request
from sluice.api.security import CurrentUser, require
from sluice.core.roles import Permission

DbSession = Annotated[Session, Depends(db)]
Ctx = Annotated[AppContext, Depends(context)]
Paging = Annotated[PageRequest, Depends(page_request)]
Reader = Annotated[CurrentUser, Depends(require(Permission.READ))]
Operator = Annotated[CurrentUser, Depends(require(Permission.OPERATE_DAGS))]
Editor = Annotated[CurrentUser, Depends(require(Permission.EDIT_GLOBAL))]
UserAdmin = Annotated[CurrentUser, Depends(require(Permission.MANAGE_USERS))]
