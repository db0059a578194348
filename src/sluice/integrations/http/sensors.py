"""``HttpSensor``: wait until an endpoint answers (and ``response_check`` agrees)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.http.hook import HttpHook, HttpStatusError, check_method
from sluice.integrations.http.operators import (
    call_with_context,
    checked_callable,
    checked_mapping,
)
from sluice.sdk.operator import Context, task_where
from sluice.sdk.sensors.base import BaseSensorOperator, PokeReturnValue

log = logging.getLogger("sluice.task")


class HttpSensor(BaseSensorOperator):
    """Pokes an endpoint: done when it answers below 400 and ``response_check`` (if given)
    returns True or a done PokeReturnValue.

    As in Airflow, an answer whose status is in ``response_error_codes_allowlist`` (404 by
    default) means "not yet"; any other 4xx or 5xx, or a refused connection, fails the
    task at once. With ``extra_options={"check_response": False}`` every answer goes to
    ``response_check``. ``endpoint``, ``request_params`` and ``headers`` are templated.
    """

    template_fields: Sequence[str] = ("endpoint", "request_params", "headers")
    template_fields_renderers = {"headers": "json", "request_params": "json"}
    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        endpoint: str,
        http_conn_id: str = HttpHook.default_conn_name,
        method: str = "GET",
        request_params: Mapping[str, Any] | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        response_error_codes_allowlist: Iterable[str | int] | None = None,
        response_check: Callable[..., bool | PokeReturnValue] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.http_conn_id = http_conn_id
        try:
            self.method = check_method(method, task_where(self))
        except ValueError as exc:
            raise DagDefinitionError(str(exc)) from None
        self.response_error_codes_allowlist = _allowlist(self, response_error_codes_allowlist)
        self.request_params = checked_mapping(self, "request_params", request_params)
        self.request_kwargs = checked_mapping(self, "request_kwargs", request_kwargs)
        self.headers = checked_mapping(self, "headers", headers)
        self.extra_options = checked_mapping(self, "extra_options", extra_options)
        self.response_check = checked_callable(self, "response_check", response_check)
        self.tcp_keep_alive = tcp_keep_alive
        self.tcp_keep_alive_idle = tcp_keep_alive_idle
        self.tcp_keep_alive_count = tcp_keep_alive_count
        self.tcp_keep_alive_interval = tcp_keep_alive_interval

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One request: False for an allowlisted error status, else the check's verdict."""
        hook = HttpHook(
            method=self.method,
            http_conn_id=self.http_conn_id,
            tcp_keep_alive=self.tcp_keep_alive,
            tcp_keep_alive_idle=self.tcp_keep_alive_idle,
            tcp_keep_alive_count=self.tcp_keep_alive_count,
            tcp_keep_alive_interval=self.tcp_keep_alive_interval,
        )
        log.info("poking %s %s", self.method, self.endpoint)
        try:
            response = hook.run(
                self.endpoint,
                data=self.request_params,
                headers=self.headers,
                extra_options=self.extra_options,
                **self.request_kwargs,
            )
        except HttpStatusError as exc:
            # Airflow matches the error's text against the allowlist: "5" allows every 5xx.
            if str(exc.status_code).startswith(self.response_error_codes_allowlist):
                log.info("answered %s: not yet", exc.status_code)
                return False
            raise
        if self.response_check is not None:
            verdict: bool | PokeReturnValue = call_with_context(
                self.response_check, response, context
            )
            return verdict
        return True


def _allowlist(task: HttpSensor, codes: Iterable[str | int] | None) -> tuple[str, ...]:
    """The status codes (as text) that mean "not yet"; 404 when not given, as Airflow."""
    if codes is None:
        return ("404",)
    if isinstance(codes, str | int) or not isinstance(codes, Iterable):
        raise DagDefinitionError(
            f"{task_where(task)}: response_error_codes_allowlist must be a list of status codes"
            f" such as ['404', '503'], got {codes!r}"
        )
    found = tuple(str(code).strip() for code in codes)
    bad = [code for code in found if not code.isdigit()]
    if bad:
        raise DagDefinitionError(
            f"{task_where(task)}: response_error_codes_allowlist holds {', '.join(map(repr, bad))},"
            " which is not a status code"
        )
    return found
