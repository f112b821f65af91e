"""Admin pages link a small icon (a static file), and /favicon.ico, which browsers ask for whatever a page
links, answers with it: no page visit logs a "Not Found: /favicon.ico" warning or shows a console 404."""

import logging

import pytest

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_static_icon_without_a_logged_404(client, staff_user, caplog):
    client.force_login(staff_user)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        page = client.get("/admin/").content.decode()
        icon = client.get("/favicon.ico", follow=True)
    assert '<link rel="icon" href="/static/favicon.' in page
    assert icon.status_code == 200 and icon.redirect_chain[0][0].startswith("/static/favicon.")
    assert b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])
    assert not [r for r in caplog.records if "Not Found" in r.getMessage()]
