"""``EmailOperator``: send an HTML email with attachments, as Airflow's."""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.arguments import check_conn_id
from sluice.integrations.email.smtp import EmailError, check_custom_header, send_email
from sluice.sdk.operator import BaseOperator, Context, task_where
from sluice.sdk.params import DagParam
from sluice.sdk.xcom_arg import XComArg

if TYPE_CHECKING:
    from sluice.config import Settings

_MIME_SUBTYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
_LATER = XComArg | DagParam
"""Values known only at run time: checked once rendered."""


class EmailOperator(BaseOperator):
    """Sends an email: ``html_content`` as the body, ``files`` attached, to ``to``, ``cc``
    and ``bcc`` (an address, a string of addresses separated by ``,`` or ``;``, or a list),
    over the SMTP server of ``[smtp]`` and the connection ``conn_id``."""

    template_fields: Sequence[str] = (
        "to", "from_email", "subject", "html_content", "files", "cc", "bcc",
    )  # fmt: skip
    template_fields_renderers = {"html_content": "html"}
    template_ext: Sequence[str] = (".html",)
    ui_color = "#e6faf9"

    def __init__(
        self,
        *,
        to: str | Sequence[str],
        subject: str,
        html_content: str,
        files: Sequence[str | os.PathLike[str]] | None = None,
        cc: str | Sequence[str] | None = None,
        bcc: str | Sequence[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        conn_id: str | None = None,
        from_email: str | None = None,
        custom_headers: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.to = _addresses(where, "to", to, required=True)
        self.subject = _text(where, "subject", subject)
        self.html_content = _text(where, "html_content", html_content)
        self.files = _files(where, files)
        self.cc = _addresses(where, "cc", cc, required=False)
        self.bcc = _addresses(where, "bcc", bcc, required=False)
        if not isinstance(mime_subtype, str) or not _MIME_SUBTYPE.match(mime_subtype):
            raise DagDefinitionError(
                f"{where}: mime_subtype must be a MIME subtype such as 'mixed', 'alternative'"
                f" or 'related', not {mime_subtype!r}"
            )
        self.mime_subtype = mime_subtype
        self.mime_charset = _charset(where, mime_charset)
        self.conn_id = None if conn_id is None else check_conn_id(where, "conn_id", conn_id)
        if from_email is not None and not isinstance(from_email, str | _LATER):
            raise DagDefinitionError(
                f"{where}: from_email must be an address (a string), not {from_email!r}"
            )
        self.from_email = from_email
        self.custom_headers = _headers(where, custom_headers)

    def execute(self, context: Context) -> None:
        """Send the email; EmailError (naming the task) when it cannot be built or sent."""
        settings = _settings(context, self.task_id)
        try:
            send_email(
                self.to,
                self.subject,
                self.html_content,
                files=self.files,
                cc=self.cc,
                bcc=self.bcc,
                mime_subtype=self.mime_subtype,
                mime_charset=self.mime_charset,
                conn_id=self.conn_id,
                from_email=self.from_email or None,
                custom_headers=self.custom_headers,
                settings=settings,
            )
        except EmailError as exc:
            raise type(exc)(f"task '{self.task_id}': {exc}") from None


def _settings(context: Context, task_id: str) -> Settings:
    settings = context.get("conf")
    if settings is None or not hasattr(settings, "get_str"):
        raise EmailError(
            f"task '{task_id}': no Sluice settings in the context (context['conf']) to read"
            " [smtp] from: run the task with sluice (dags test, tasks test or the scheduler)"
        )
    return settings  # type: ignore[no-any-return]


def _addresses(where: str, name: str, value: Any, *, required: bool) -> Any:
    if value is None and not required:
        return None
    if isinstance(value, _LATER):
        return value
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise DagDefinitionError(
            f"{where}: {name} must be an address, a string of addresses separated by ',' or"
            f" ';', or a list of addresses, not {value!r}"
        )
    for item in items:
        if not isinstance(item, str | _LATER):
            raise DagDefinitionError(f"{where}: {name} holds {item!r}, which is not an address")
    if required and not any(isinstance(i, _LATER) or re.sub(r"[\s,;]", "", i) for i in items):
        raise DagDefinitionError(f"{where}: {name} holds no address")
    return value


def _text(where: str, name: str, value: Any) -> Any:
    if not isinstance(value, str | _LATER):
        raise DagDefinitionError(f"{where}: {name} must be a string, not {value!r}")
    return value


def _files(where: str, files: Any) -> Any:
    if files is None:
        return []
    if isinstance(files, _LATER):
        return files
    if isinstance(files, str | os.PathLike) or not isinstance(files, list | tuple):
        raise DagDefinitionError(
            f"{where}: files must be a list of file paths, not {files!r}"
            + (f" (write files=[{files!r}])" if isinstance(files, str | os.PathLike) else "")
        )
    for path in files:
        if not isinstance(path, str | os.PathLike | _LATER) or path == "":
            raise DagDefinitionError(f"{where}: files holds {path!r}, which is not a file path")
    return list(files)


def _charset(where: str, charset: Any) -> str:
    try:
        if not isinstance(charset, str):
            raise LookupError
        codecs.lookup(charset)
    except LookupError:
        raise DagDefinitionError(
            f"{where}: mime_charset {charset!r} is not a known character set (such as 'utf-8')"
        ) from None
    return charset


def _headers(where: str, headers: Any) -> dict[str, Any] | None:
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        raise DagDefinitionError(
            f"{where}: custom_headers must be a dict of header names to values, not {headers!r}"
        )
    try:
        for name, value in headers.items():
            check_custom_header(name, value)
    except EmailError as exc:
        raise DagDefinitionError(f"{where}: {exc}") from None
    return dict(headers)
