"""Rename the first price plan versions (loaded by 0002) to names a user can read on a
bill: they carried the source document's heading ("seed 产品价格"). Versions an admin
added or renamed are left alone."""

from django.db import migrations

RENAMES = {
    "baidu": (
        "Baidu Body Analysis (seed 产品价格)",
        "Baidu Body Analysis list prices · 百度人体分析标准价格",
    ),
    "ctyun": (
        "CTYun Safety Production public beta (seed 3 计费说明)",
        "CTYun Safety Production public beta · 天翼云安全生产公测",
    ),
}


def _rename(apps, direction: int) -> None:
    PricePlan = apps.get_model("billing", "PricePlan")
    for vendor, names in RENAMES.items():
        old, new = names[::direction]
        for plan in PricePlan.objects.filter(vendor=vendor):
            if (plan.data or {}).get("name") == old:
                plan.data = {**plan.data, "name": new}
                plan.save(update_fields=["data"])


def forwards(apps, schema_editor):
    _rename(apps, 1)


def backwards(apps, schema_editor):
    _rename(apps, -1)


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_free_quota_claims_per_api")]

    operations = [migrations.RunPython(forwards, backwards)]
