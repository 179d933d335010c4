"""Mail delivery with the standard library.

``CUSTODYD_SMTP_URL``: ``smtp://host:port`` (plain), ``smtp+starttls://user:pass@host:port``
(STARTTLS, then login when credentials are given) or ``smtps://user:pass@host:port``
(TLS from the first byte). User and password are percent-decoded.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from custodyd.daemon.errors import ConfigError, CustodydError

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class PlainSmtpRefused(CustodydError):
    """A confidential alert would travel unencrypted: refused, never retried."""

    slug, title, http_status, exit_code = "plain-smtp-refused", "Plain SMTP refused", 409, 4


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ConfigError(
            f"smtp_url scheme must be smtp, smtp+starttls or smtps, not {parts.scheme!r}"
        )
    if not parts.hostname:
        raise ConfigError(f"smtp_url has no host: {url!r}")
    return SmtpTarget(
        scheme=scheme,
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def send_mail(
    url: str,
    *,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    body: str,
    message_id_key: str | None = None,
    timeout: float = 30.0,
    require_tls: bool = False,
) -> str:
    """Send one plain-text message; returns its Message-ID. Raises OSError/SMTPException.

    ``require_tls`` (alerts about confidential orders): a plain ``smtp://`` target
    is refused with :class:`PlainSmtpRefused` before connecting, and STARTTLS must
    succeed (smtplib raises when the server does not offer it).
    """
    target = parse_smtp_url(url)
    if require_tls and target.scheme == "smtp":
        raise PlainSmtpRefused(
            f"a confidential alert is not sent over plain SMTP ({target.host}:{target.port}); "
            "configure smtp+starttls:// or smtps://"
        )
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=message_id_key, domain="custodyd")
    msg.set_content(body)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if target.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if target.scheme == "smtp+starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if target.username:
            smtp.login(target.username, target.password or "")
        smtp.send_message(msg, from_addr=sender, to_addrs=list(recipients))
    return str(msg["Message-ID"])
