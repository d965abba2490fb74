"""The landing page: an admin with first-run steps left sees the checklist
(``monitoring.checklist``); everyone else goes to the first page their roles allow."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from monitoring.checklist import pending_steps
from monitoring.context_processors import NAVIGATION


def _first_page(user) -> str:
    for name, _label, permission in NAVIGATION:
        if user.has_perm(permission):
            return name
    raise PermissionDenied("This account has no role yet: ask an administrator for one.")


def home(request):
    first = _first_page(request.user)
    steps = pending_steps(request.user)
    if steps is None:
        return redirect(first)
    return render(
        request,
        "monitoring/home.html",
        {"steps": steps, "done": sum(step.done for step in steps), "first_page": first},
    )
