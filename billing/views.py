"""Finance pages."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render

from cameras import roles


@permission_required(roles.VIEW_BILLS, raise_exception=True)
def index(request):
    return render(request, "billing/index.html", {"sites": roles.sites_for(request.user)})
