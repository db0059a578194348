"""``HttpOperator`` (Airflow's, once ``SimpleHttpOperator``): one request from a task."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.arguments import check_dict
from sluice.integrations.errors import IntegrationError
from sluice.integrations.http.hook import HttpHook, RetryPolicy, check_method
from sluice.sdk.operator import BaseOperator, Context, task_where
from sluice.sdk.operators.python import context_kwargs

if TYPE_CHECKING:
    from requests import Response

log = logging.getLogger("sluice.task")


class ResponseCheckFailed(IntegrationError):
    """Raised when ``response_check`` returns a false value (the task fails; it may retry)."""


def checked_callable(task: BaseOperator, name: str, value: Any) -> Any:
    """``value`` when it is None or callable; DagDefinitionError naming the argument else."""
    if value is not None and not callable(value):
        raise DagDefinitionError(
            f"{task_where(task)}: {name} must be a function that takes the response, got {value!r}"
        )
    return value


def checked_mapping(task: BaseOperator, name: str, value: Any) -> dict[str, Any]:
    """A dict argument (None is empty); DagDefinitionError for anything else."""
    return check_dict(task_where(task), name, value)


def call_with_context(fn: Callable[..., Any], response: Any, context: Context) -> Any:
    """``fn(response, **the context values it names)``, as Airflow's ``determine_kwargs``."""
    return fn(response, **context_kwargs(fn, context, [response], {}))


class HttpOperator(BaseOperator):
    """Sends one request through an HTTP connection; the response's text (or what
    ``response_filter`` makes of the response) goes to XCom.

    ``endpoint``, ``data`` and ``headers`` are templated. ``response_check(response, **context)``
    returning a false value fails the task. ``retry_limit`` (or ``retry_args``) retries a
    refused connection, a timeout, a 429 and a 5xx answer within the try, waiting
    ``retry_delay`` seconds, doubled each time.
    """

    conn_id_field = "http_conn_id"
    template_fields: Sequence[str] = ("endpoint", "data", "headers")
    template_fields_renderers = {"headers": "json", "data": "py"}
    ui_color = "#f4a460"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        method: str = "POST",
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        response_check: Callable[..., Any] | None = None,
        response_filter: Callable[..., Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        http_conn_id: str = HttpHook.default_conn_name,
        log_response: bool = False,
        auth_type: Any = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        retry_limit: int | None = None,
        retry_delay: float | None = None,
        retry_args: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.http_conn_id = http_conn_id
        try:
            self.method = check_method(method, task_where(self))
        except ValueError as exc:
            raise DagDefinitionError(str(exc)) from None
        self.endpoint = endpoint
        self.headers = checked_mapping(self, "headers", headers)
        self.data = data if data is not None else {}
        self.response_check = checked_callable(self, "response_check", response_check)
        self.response_filter = checked_callable(self, "response_filter", response_filter)
        self.extra_options = checked_mapping(self, "extra_options", extra_options)
        self.request_kwargs = checked_mapping(self, "request_kwargs", request_kwargs)
        self.log_response = log_response
        self.auth_type = auth_type
        self.tcp_keep_alive = tcp_keep_alive
        self.tcp_keep_alive_idle = tcp_keep_alive_idle
        self.tcp_keep_alive_count = tcp_keep_alive_count
        self.tcp_keep_alive_interval = tcp_keep_alive_interval
        self.retry_args = retry_settings(self, retry_limit, retry_delay, retry_args)

    @property
    def hook(self) -> HttpHook:
        """A hook on the task's connection and method."""
        return HttpHook(
            method=self.method,
            http_conn_id=self.http_conn_id,
            auth_type=self.auth_type,
            tcp_keep_alive=self.tcp_keep_alive,
            tcp_keep_alive_idle=self.tcp_keep_alive_idle,
            tcp_keep_alive_count=self.tcp_keep_alive_count,
            tcp_keep_alive_interval=self.tcp_keep_alive_interval,
        )

    def execute(self, context: Context) -> Any:
        """Send the request, check it, return what goes to XCom."""
        log.info("calling %s %s on connection '%s'", self.method, self.endpoint or "",
                 self.http_conn_id)  # fmt: skip
        hook = self.hook
        args = (self.endpoint, self.data, self.headers, self.extra_options)
        if self.retry_args:
            response = hook.run_with_advanced_retry(self.retry_args, *args, **self.request_kwargs)
        else:
            response = hook.run(*args, **self.request_kwargs)
        return self.process_response(context, response)

    def process_response(self, context: Context, response: Response) -> Any:
        """Log, check and filter the response; the value for XCom."""
        if self.log_response:
            log.info("%s", response.text)
        check = self.response_check
        if check is not None and not call_with_context(check, response, context):
            raise ResponseCheckFailed(
                f"{task_where(self)}: response_check returned False for the answer "
                f"{response.status_code} of {self.method} {self.endpoint or '/'}"
            )
        if self.response_filter is not None:
            return call_with_context(self.response_filter, response, context)
        return response.text


SimpleHttpOperator = HttpOperator
"""Airflow's name before ``HttpOperator``."""


def retry_settings(
    task: BaseOperator,
    retry_limit: int | None,
    retry_delay: float | None,
    retry_args: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """The ``_retry_args`` for the hook from the task's arguments (None: no retries);
    DagDefinitionError when they are not valid."""
    args = dict(checked_mapping(task, "retry_args", retry_args))
    if retry_limit is not None:
        args["retry_limit"] = retry_limit
    if retry_delay is not None:
        args["retry_delay"] = retry_delay
    if not args:
        return None
    try:
        RetryPolicy.from_args(args, task_where(task))
    except ValueError as exc:
        raise DagDefinitionError(str(exc)) from None
    return args
