"""BashOperator: run a shell command; its last line of output goes to XCom."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Container, Sequence
from typing import Any

from sluice.core.errors import SkipTask
from sluice.sdk.operator import BaseOperator, Context

log = logging.getLogger("sluice.task")


class BashCommandFailed(RuntimeError):
    """Raised when the command exits with a code that neither succeeds nor skips."""


class BashOperator(BaseOperator):
    """Runs ``bash_command`` with bash; exit 0 succeeds, ``skip_on_exit_code`` skips."""

    template_fields: Sequence[str] = ("bash_command", "env", "cwd")
    template_fields_renderers = {"bash_command": "bash", "env": "json"}
    template_ext: Sequence[str] = (".sh", ".bash")
    ui_color = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: str,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        if skip_on_exit_code is None:
            skip_on_exit_code = ()
        elif isinstance(skip_on_exit_code, int):
            skip_on_exit_code = (skip_on_exit_code,)
        self.skip_on_exit_code: Container[int] = skip_on_exit_code
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    def execute(self, context: Context) -> Any:
        """Run the command, stream its output to the task log, return the last line."""
        if not isinstance(self.bash_command, str) or not self.bash_command.strip():
            raise ValueError(f"task '{self.task_id}': bash_command is empty")
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise FileNotFoundError(f"task '{self.task_id}': cwd '{self.cwd}' is not a directory")
        env = self._environment(context)
        last_line = ""
        process = self._process = subprocess.Popen(
            ["bash", "-c", self.bash_command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.cwd,
            start_new_session=True,  # so that on_kill can kill the whole process group
        )
        assert process.stdout is not None
        try:
            for raw in process.stdout:
                last_line = raw.decode(self.output_encoding, errors="replace").rstrip("\n")
                log.info("%s", last_line)
            code = process.wait()
        finally:
            # A timeout or an interrupt leaves the command running: stop it, reap it.
            _terminate(process)
            process.stdout.close()
            self._process = None
        if code in self.skip_on_exit_code:
            raise SkipTask(f"bash command exited with code {code}: skipping")
        if code != 0:
            raise BashCommandFailed(f"bash command failed with exit code {code}")
        return last_line

    def _environment(self, context: Context) -> dict[str, str]:
        env = dict(os.environ) if self.env is None or self.append_env else {}
        env.update(self.env or {})
        # The run's identity, under Airflow's names too, so that scripts can use either.
        for key, value in context_env(context).items():
            env.setdefault(key, value)
            env.setdefault(key.replace("SLUICE_CTX_", "AIRFLOW_CTX_"), value)
        return env

    def on_kill(self) -> None:
        """Kill the command and everything it started."""
        if self._process is not None:
            _terminate(self._process)


def _terminate(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the command's process group, then SIGKILL it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def context_env(context: Context) -> dict[str, str]:
    """Environment variables that tell a subprocess which task instance it runs for."""
    ti = context.get("ti")
    values = {
        "SLUICE_CTX_DAG_ID": getattr(context.get("dag"), "dag_id", None),
        "SLUICE_CTX_TASK_ID": getattr(ti, "task_id", None),
        "SLUICE_CTX_RUN_ID": context.get("run_id"),
        "SLUICE_CTX_LOGICAL_DATE": context.get("ts"),
        "SLUICE_CTX_TRY_NUMBER": str(getattr(ti, "try_number", "")),
    }
    return {k: str(v) for k, v in values.items() if v not in (None, "")}
