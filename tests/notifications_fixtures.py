"""Fixtures of the notifications tests: a real SMTP server (aiosmtpd) on a fixed free port, and helpers
to read what it and the HTTP peer (pytest-httpserver) received."""

import email
import email.policy
import socket
import threading

import pytest


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """What the SMTP server received: ``email.message.EmailMessage`` objects, with their envelope."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"

    def received(self):
        with self.lock:
            return list(self.messages)


@pytest.fixture
def smtp_server(settings):
    """A real SMTP peer; this process's e-mail settings point at it (``.env`` does for workers)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    inbox.port = port
    inbox.env = {"EMAIL_URL": f"smtp://127.0.0.1:{port}", "DEFAULT_FROM_EMAIL": "jobdesk <jobdesk@example.com>"}
    yield inbox
    controller.stop()


def parts(message):
    """(text, html) bodies of a multipart/alternative e-mail."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def requests_to(httpserver, path):
    return [request for request, _ in httpserver.log if request.path == path]
