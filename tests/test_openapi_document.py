"""The API describes itself: /api/docs and its OpenAPI document list every endpoint and its errors."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_document_lists_the_endpoints_and_their_error_answers(client):
    document = client.get("/api/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    export = paths["/api/control-panel/analytics/export"]["post"]
    assert {"202", "400", "401", "403", "404", "413", "422"} <= set(export["responses"])
    assert "/api/jobs/{job_id}" in paths and "/api/queues/health" in paths
    settings = paths["/api/control-panel/guild/settings"]["post"]
    assert {"200", "400", "401", "403", "404", "422"} <= set(settings["responses"])
    schema = document.json()["components"]["schemas"]["GuildSettingsIn"]
    assert set(schema["required"]) == {"guild", "time_zone"}
    assert client.get("/api/docs").status_code == 200


@pytest.mark.parametrize("method, path, status", [
    ("get", "/api/no-such-endpoint", 404),
    ("delete", "/api/queues/health", 405),
])
def test_djangos_own_errors_under_api_are_json_too(client, method, path, status):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json") and response.json()["message"]
