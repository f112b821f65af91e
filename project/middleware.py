"""Correlation-ID middleware: one ID per request, from ``X-Correlation-ID`` when valid, else new."""

from project import correlation

HEADER = "X-Correlation-ID"


class CorrelationIdMiddleware:
    """Binds the request's correlation ID for the view and echoes it in the response.

    An incoming header that is not a plausible ID (see ``correlation.is_valid``) is replaced, not
    trusted: the caller still gets the ID that was used, in the response header.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER)
        cid = incoming if correlation.is_valid(incoming) else correlation.new_id()
        request.correlation_id = cid
        with correlation.bind(cid):
            response = self.get_response(request)
        response[HEADER] = cid
        return response


class ApiJsonErrorsMiddleware:
    """Under /api/, every error is JSON: Django's own answers (404 for an unknown path, 405 for a wrong
    method, 403 for a failed CSRF check, 400 for an oversized body) arrive as HTML pages otherwise."""

    PREFIX = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (request.path.startswith(self.PREFIX) and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            from http import HTTPStatus

            from django.http import JsonResponse

            try:
                reason = HTTPStatus(response.status_code).phrase.lower()
            except ValueError:
                reason = "error"
            replacement = JsonResponse({"error": reason.replace(" ", "_"), "message": reason},
                                       status=response.status_code)
            for header in ("Allow", "X-Correlation-ID"):
                if response.has_header(header):
                    replacement[header] = response[header]
            return replacement
        return response
