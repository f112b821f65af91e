"""The POST half of a control-panel page where a guild's admins submit a form (exports, branding, …)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect

from jobs.errors import JobError


def submit_admin_form(request, form, *, admin, refused, save, saved):
    """Refuse anyone but the guild's admins (403 with ``refused``), validate ``form``, call ``save`` (a
    service) with its cleaned data, and answer a redirect back to the page with the ``saved`` message
    (a string, or a function of what ``save`` returned).

    Returns None when the page must be shown again with ``form``: its errors, and a ``JobError`` from the
    service beside the field it names (or above the form), are in it then.
    """
    if not admin:
        raise PermissionDenied(refused)
    if form.is_valid():
        try:
            result = save(**form.cleaned_data)
        except JobError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, saved(result) if callable(saved) else saved)
            return HttpResponseRedirect(request.path)
    return None
