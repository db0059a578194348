"""Email: ``EmailOperator``, ``send_email`` over SMTP, and the alerts of failed tries.

Importing this package imports neither smtplib nor the ``email`` package: they are
imported when a message is built or sent.
"""

from __future__ import annotations

from sluice.integrations.email.alerts import send_task_alert
from sluice.integrations.email.operators import EmailOperator
from sluice.integrations.email.smtp import (
    EmailError,
    SmtpConfig,
    SmtpError,
    build_mime_message,
    send_email,
    smtp_config,
)

__all__ = [
    "EmailError",
    "EmailOperator",
    "SmtpConfig",
    "SmtpError",
    "build_mime_message",
    "send_email",
    "send_task_alert",
    "smtp_config",
]
