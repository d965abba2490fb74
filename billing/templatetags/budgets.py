"""``{% load budgets %}``: the budget of a site or camera, for the status include.

``{% budget_of scope as budget %}`` gives what ``billing/_budget_status.html`` shows for a
``Site`` (its whole-site budget), a ``Camera`` (its own budget and its site's) or a
``Budget``; see ``billing.budget_views.scope_info``. Nothing (None) for a camera not saved
yet.
"""

from __future__ import annotations

from django import template

from billing.budget_views import scope_info

register = template.Library()


@register.simple_tag
def budget_of(scope) -> dict | None:
    return scope_info(scope)
