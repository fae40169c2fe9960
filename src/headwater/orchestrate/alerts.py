"""Alerts: one message per incident to every configured channel, and one when it resolves.

An incident is keyed by what it is about (`run:nightly`, `check:marts.fact_sales:unique_id`,
`sla:marts.daily_revenue`). Noticing it again while it is open sends nothing; the next success
closes it and sends the resolution. Channels: a webhook (Slack-compatible JSON), e-mail over
SMTP and a command hook. Secrets in channel settings are `${ENV_VAR}` references and are
scrubbed from every error a channel reports.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import smtplib
import subprocess
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.build.secrets import redact, resolve
from headwater.catalog.scheduling import (
    mark_delivered,
    open_incident,
    open_incidents,
    resolve_incident,
)
from headwater.errors import Location
from headwater.project.config import AlertsConfig, CommandChannel, EmailChannel, WebhookChannel

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog

_LOG = logging.getLogger(__name__)
SEND_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Alert:
    """One message: an incident opened, or resolved."""

    kind: str
    """`run_failure`, `check_failure` or `sla_breach`."""
    incident: str
    subject: str
    """The job, asset or check it is about."""
    message: str
    resolved: bool = False
    at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def title(self) -> str:
        """A one-line summary."""
        what = {
            "run_failure": "run failed",
            "check_failure": "check failed",
            "sla_breach": "freshness SLA breached",
            "stream_stopped": "stream stopped",
            "stream_lag": "stream falling behind",
            "slot_wal": "replication slot holding WAL",
            "cdc_lag": "cdc mirrors falling behind",
        }.get(self.kind, self.kind)
        return f"{'RESOLVED' if self.resolved else 'ALERT'}: {what}: {self.subject}"

    def as_json(self) -> dict[str, Any]:
        """The alert's fields."""
        return {
            "kind": self.kind,
            "incident": self.incident,
            "subject": self.subject,
            "message": self.message,
            "resolved": self.resolved,
            "at": self.at,
            "title": self.title,
        }


class Alerter:
    """Opens and resolves incidents in the catalog and tells the channels."""

    def __init__(self, catalog: Catalog, config: AlertsConfig, project_root: Path) -> None:
        self.catalog = catalog
        self.config = config
        self.root = project_root
        self.sent: list[Alert] = []

    def raise_incident(self, kind: str, incident: str, subject: str, message: str) -> bool:
        """Alert once for `incident` (a no-op while it is open); True when it was sent."""
        if kind not in self.config.on:
            return False
        if not open_incident(self.catalog, incident, kind, subject, message):
            return False
        delivered = self._send(Alert(kind, incident, subject, message))
        mark_delivered(self.catalog, incident, delivered)
        return True

    def redeliver(self) -> int:
        """Send again the alerts of open incidents no channel accepted; return how many
        got through now."""
        sent = 0
        for found in open_incidents(self.catalog):
            if found["delivered"] != 0 or found["kind"] not in self.config.on:
                continue
            alert = Alert(found["kind"], found["incident"], found["subject"], found["message"])
            if self._send(alert):
                mark_delivered(self.catalog, found["incident"], True)
                sent += 1
        return sent

    def resolve(self, incident: str, message: str) -> bool:
        """Close `incident` when it is open and say so; True when a resolution was sent."""
        found = resolve_incident(self.catalog, incident)
        if found is None:
            return False
        self._send(Alert(found["kind"], incident, found["subject"], message, resolved=True))
        return True

    def _send(self, alert: Alert) -> bool:
        """Hand `alert` to every channel; True when at least one took it (or there are
        none)."""
        self.sent.append(alert)
        delivered = not self.config.channels
        for channel in self.config.channels:
            try:
                if isinstance(channel, WebhookChannel):
                    self._webhook(channel, alert)
                elif isinstance(channel, EmailChannel):
                    self._email(channel, alert)
                else:
                    self._command(channel, alert)
                delivered = True
            except Exception as exc:  # one channel failing must not silence the others
                _LOG.warning(
                    "alert %s could not go to the %s channel: %s",
                    alert.incident,
                    channel.type,
                    redact(str(exc)),
                )
        return delivered

    def _webhook(self, channel: WebhookChannel, alert: Alert) -> None:
        import httpx

        where = Location(file="headwater.yml", asset="alerts")
        url = resolve(channel.url, where, "alerts.channels.url")
        headers = {
            k: resolve(v, where, f"alerts.channels.headers.{k}") for k, v in channel.headers.items()
        }
        body = {"text": f"{alert.title}\n{alert.message}", "headwater": alert.as_json()}
        response = httpx.post(url, json=body, headers=headers, timeout=SEND_TIMEOUT_S)
        response.raise_for_status()

    def _email(self, channel: EmailChannel, alert: Alert) -> None:
        where = Location(file="headwater.yml", asset="alerts")
        message = EmailMessage()
        message["Subject"] = f"[headwater] {alert.title}"
        message["From"] = channel.sender
        message["To"] = ", ".join(channel.to)
        message.set_content(f"{alert.message}\n\nincident: {alert.incident}\nat: {alert.at}\n")
        with smtplib.SMTP(channel.host, channel.port, timeout=SEND_TIMEOUT_S) as smtp:
            if channel.starttls:
                smtp.starttls()
            if channel.username:
                smtp.login(
                    resolve(channel.username, where, "alerts.channels.username"),
                    resolve(channel.password or "", where, "alerts.channels.password"),
                )
            smtp.send_message(message)

    def _command(self, channel: CommandChannel, alert: Alert) -> None:
        env = {
            **os.environ,
            **{f"HEADWATER_ALERT_{k.upper()}": str(v) for k, v in alert.as_json().items()},
        }
        subprocess.run(
            channel.command,
            input=json.dumps(alert.as_json()),
            text=True,
            cwd=self.root,
            env=env,
            check=True,
            timeout=SEND_TIMEOUT_S * 3,
            capture_output=True,
        )
