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
