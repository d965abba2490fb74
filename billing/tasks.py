"""Celery tasks of billing, run by beat every hour on the hour (``BEAT_SCHEDULE``).

Both are thin and idempotent: they take no state, call the domain code and may run twice
or late without counting anything twice (``rollup.roll_up`` recomputes from the ledger,
``settlement.settle`` settles each hour once).
"""

from __future__ import annotations

from celery import shared_task
from celery.schedules import crontab

from billing import rollup, settlement, usage

# What settings' CELERY_BEAT_SCHEDULE holds for billing (UTC; hours are the same in
# Asia/Shanghai, which is UTC+8 all year).
BEAT_SCHEDULE = {
    "billing-roll-up-usage": {
        "task": "billing.tasks.roll_up_usage",
        "schedule": crontab(minute=0),
    },
    "billing-settle-accounts": {
        "task": "billing.tasks.settle_accounts",
        "schedule": crontab(minute=0),
    },
}


@shared_task(acks_late=True, ignore_result=True)
def roll_up_usage() -> int:
    """Close the ledger rows of requests cut by a crash, then fold the ledger's new rows
    into hourly rollups; the number of rows folded."""
    usage.close_interrupted()
    return rollup.roll_up()


@shared_task(acks_late=True, ignore_result=True)
def settle_accounts() -> int:
    """Settle the hours that ended for every billed account; the number of accounts."""
    return settlement.settle_all()
