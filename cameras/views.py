"""Admin pages for sites and cameras."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render

from cameras import roles


@permission_required(roles.CONFIGURE, raise_exception=True)
def camera_list(request):
    return render(request, "cameras/list.html", {"sites": roles.sites_for(request.user)})
