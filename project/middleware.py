"""Request middleware: the correlation ID of each request, and the edge of the JSON API (bodies limited
and JSON before anything reads them; every error under /api/ a JSON body)."""

import io
import json
import re
from http import HTTPStatus

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpResponseBadRequest, JsonResponse, RawPostDataException, UnreadablePostError

from project import correlation
from project.text import bad_text, unstorable_message, unstorable_text

HEADER = "X-Correlation-ID"
API_PREFIX = "/api/"
# The largest request body the API takes; every endpoint's input is far smaller.
MAX_BODY = 64 * 1024


def json_error(status, error, message):
    return JsonResponse({"error": error, "message": message}, status=status)


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
        with correlation.bind(cid), correlation.bind_fields():
            response = self.get_response(request)
        response[HEADER] = cid
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        """By now the authentication middleware has run: log lines of the view name the actor."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            correlation.add_fields(actor_id=user.pk)


class ApiRequestBodyMiddleware:
    """Under /api/, a request body is JSON of at most ``MAX_BODY`` bytes, checked here, before the
    session, CSRF check, parser or validation read it: anything else answers a 4xx JSON body at once.

    Too big is 413 at any size: a declared Content-Length over the limit is refused unread; a chunked
    body under WSGI (gunicorn decodes it; Django alone would read it as empty) is read here up to one
    byte past the limit, then either refused or handed on as the request's body; a body without a
    length under ASGI (HTTP/2) is read at most up to Django's DATA_UPLOAD_MAX_MEMORY_SIZE (then
    ``RequestDataTooBig``) before its real size is checked. A body that is not ``application/json``
    is 415, so that no form a browser posts cross-site is ever parsed as the API's JSON. Text that no
    column can hold (NUL, an unpaired surrogate, both valid JSON escapes) is 422 naming its field.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            refusal = self.refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    @staticmethod
    def refusal(request):
        too_big = json_error(413, "body_too_large",
                             f"the request body is over the API's limit of {MAX_BODY // 1024} KiB ({MAX_BODY} bytes)")
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared and not declared.isdigit():
            return json_error(400, "bad_request", "Content-Length is not a number of bytes")
        if not declared and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            try:
                if not read_chunked_body(request):
                    return too_big
            except Exception:  # noqa: BLE001 - whatever the server's reader raises for a broken chunk
                return json_error(400, "bad_request", "the chunked request body could not be read")
        if declared and int(declared) > MAX_BODY:
            return too_big
        try:
            body = request.body
        except RequestDataTooBig:
            return too_big
        except (UnreadablePostError, RawPostDataException):
            return json_error(400, "bad_request", "the request body could not be read")
        if len(body) > MAX_BODY:
            return too_big
        content_type = request.content_type or ""
        if body and not (content_type == "application/json" or content_type.endswith("+json")):
            return json_error(415, "unsupported_media_type",
                              f"send the body as JSON with Content-Type: application/json (got {content_type or 'none'!r})")
        if body and UNSTORABLE_ESCAPE.search(body):
            return unstorable_text_refusal(body)
        return None


# The JSON escapes of text no column can hold (NUL, a surrogate half): a body without them needs no look.
UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|d[89a-f][0-9a-f]{2})", re.IGNORECASE)


def unstorable_text_refusal(body):
    """422 naming the first field whose text the database cannot store (``project.text``), for every
    endpoint at once; None when the body is not JSON (the endpoint says so) or all its text is fine."""
    try:
        data = json.loads(body)
        field = unstorable_text(data, "")
    except ValueError:
        return None
    except RecursionError:
        return json_error(400, "bad_request", "the JSON body is nested too deeply")
    if field is None:
        return None
    field, message = field or "body", unstorable_message(field)
    return JsonResponse({"error": "invalid_request", "message": message, "field": field,
                         "errors": [{"field": field, "message": message}]}, status=422)


def read_chunked_body(request):
    """Reads a chunked body from the WSGI input (already decoded by the server) up to one byte past
    ``MAX_BODY`` and makes it the request's body. False when it is over the limit."""
    stream = request.META.get("wsgi.input")
    if stream is None:  # ASGI: the body is already buffered and measured below
        return True
    pieces, size = [], 0
    while size <= MAX_BODY:
        piece = stream.read(MAX_BODY + 1 - size)
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    if size > MAX_BODY:
        return False
    body = b"".join(pieces)
    request._stream = io.BytesIO(body)
    request.META["CONTENT_LENGTH"] = str(len(body))
    return True


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class UnusableInputMiddleware:
    """Two kinds of input no view can use, refused with 400 before a view sees them (Django's admin
    answered both with a 500):

    - a NUL (``%00``) in a query string or a form field, key or value: PostgreSQL refuses it in any
      statement, and the admin's list filters passed it on to one;
    - an admin list's selection (``_selected_action``) holding a value that is not an id of the list's
      model: the action's ``pk__in`` raised.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _holds_nul(request.GET) or (request.method == "POST" and request.content_type in FORM_TYPES
                                       and _holds_nul(request.POST)):
            return HttpResponseBadRequest("A NUL character (%00) in a query string or a form field.",
                                          content_type="text/plain")
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        model_admin = getattr(view_func, "model_admin", None)  # set by ModelAdmin.get_urls on its views
        if model_admin is None or request.method != "POST":
            return None
        pk = model_admin.model._meta.pk
        for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
            try:
                pk.to_python(value)
            except (ValidationError, ValueError, TypeError):
                return HttpResponseBadRequest(f"The selection holds {value[:60]!r}, which is not the id of a "
                                              f"{model_admin.model._meta.verbose_name}.", content_type="text/plain")
        return None


def _holds_nul(query):
    """A NUL in a decoded query or form (the only unstorable text decoding can make: it replaces bad
    UTF-8, so no surrogate half comes out)."""
    return any(bad_text(key) or any(bad_text(value) for value in values) for key, values in query.lists())


class ApiJsonErrorsMiddleware:
    """Under /api/, every error is JSON: Django's own answers (404 for an unknown path, 405 for a wrong
    method, 403 for a failed CSRF check, 400 for an oversized body) arrive as HTML pages otherwise."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (request.path.startswith(API_PREFIX) and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            try:
                reason = HTTPStatus(response.status_code).phrase.lower()
            except ValueError:
                reason = "error"
            replacement = json_error(response.status_code, reason.replace(" ", "_"), reason)
            for header in ("Allow", "X-Correlation-ID"):
                if response.has_header(header):
                    replacement[header] = response[header]
            return replacement
        return response
