"""Account e-mails: a subject, a plain-text body and a simple HTML body per message, rendered
from templates/accounts/email/<name>_{subject.txt,body.txt,body.html} in the active language."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def email_send(*, to: str, template: str, context: dict[str, Any]) -> bool:
    """Send one account e-mail. Called after commit, so a mail server failure is logged and
    reported as False instead of turning a finished request into an error page."""
    base = f"accounts/email/{template}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    text = render_to_string(f"{base}_body.txt", context)
    html = render_to_string(f"{base}_body.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError):
        logger.exception("email.send_failed", extra={"template": template})
        return False
    logger.info("email.sent", extra={"template": template})
    return True
