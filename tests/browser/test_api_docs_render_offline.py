"""An engineer opens ``/api/docs`` on a machine without internet: Swagger UI draws every endpoint from
jobdesk's own static files. Anything the page asks of another host is refused here, as a closed network
would, and must not be needed."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_docs_draw_every_endpoint_with_nothing_from_elsewhere(page, live_server):
    elsewhere = []

    def only_this_server(route):
        if route.request.url.startswith(live_server.url):
            return route.continue_()
        elsewhere.append(route.request.url)
        return route.abort()

    page.route("**/*", only_this_server)
    page.goto(live_server.url + "/api/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("jobdesk")
    operations = page.locator(".swagger-ui .opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 5, "the jobs, exports and branding endpoints are listed"
    expect(page.locator(".swagger-ui")).to_contain_text("/api/control-panel/analytics/export")
    expect(page.locator(".swagger-ui")).to_contain_text("/api/jobs/{job_id}")
    assert elsewhere == [], f"the docs asked other hosts for {elsewhere}"
