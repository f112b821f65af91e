"""Generated bad input (schemathesis, from the OpenAPI document) against the guild-token API: every
answer is documented, JSON, and never a 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from project.wsgi import application

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture
def api_schema(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    return schemathesis.openapi.from_wsgi("/api/openapi.json", application)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def token(world):
    from project.tenancy import api_token_create

    return api_token_create(guild=world["mine"], name="fuzz")[1]


@schema.include(path_regex="^/api/(control-panel|jobs/)").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_answers_5xx_to_generated_input(case, token):
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, response.text
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/json"), (response.status_code, response.headers, response.text)
    case.validate_response(response, checks=[schemathesis.checks.status_code_conformance])
