"""Operator pages: the live wall and the alert list."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render

from cameras import roles


@permission_required(roles.WATCH, raise_exception=True)
def live(request):
    return render(request, "alerts/live.html", {"sites": roles.sites_for(request.user)})


@permission_required(roles.WATCH, raise_exception=True)
def alert_list(request):
    return render(request, "alerts/list.html", {"sites": roles.sites_for(request.user)})
