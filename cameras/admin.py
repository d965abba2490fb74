from django.contrib import admin

from cameras.models import Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "address", "created_at")
    search_fields = ("name", "address")
    filter_horizontal = ("members",)
