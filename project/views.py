"""The site root: staff go to the admin, everyone else to the control panel (which asks to log in)."""

from django.shortcuts import redirect
from django.views.decorators.http import require_GET


@require_GET
def home(request):
    user = request.user
    return redirect("admin:index" if user.is_authenticated and user.is_staff else "panel:guilds")
