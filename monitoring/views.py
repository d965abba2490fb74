"""The landing page: send each user to the first page their roles allow."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from monitoring.context_processors import NAVIGATION


def home(request):
    for name, _label, permission in NAVIGATION:
        if request.user.has_perm(permission):
            return redirect(name)
    raise PermissionDenied("This account has no role yet: ask an administrator for one.")
