"""Django admin for superusers: the registry, read-mostly (writes go through services)."""

from django.contrib import admin

from registry.models import (
    Deployment,
    Environment,
    Infrastructure,
    Membership,
    Module,
    ModuleVersion,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that services own: visible, not editable here (edits would skip audit and IPP)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Infrastructure)
class InfrastructureAdmin(ReadOnlyAdmin):
    list_display = ["name", "platform", "activation_code", "ipp_protected", "portal_blocked"]
    search_fields = ["name", "activation_code"]


@admin.register(Environment)
class EnvironmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "infrastructure", "serial"]
    list_select_related = ["infrastructure"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "infrastructure", "role", "default_level", "create_modules"]
    list_select_related = ["user", "infrastructure"]


@admin.register(Module)
class ModuleAdmin(ReadOnlyAdmin):
    list_display = ["name", "infrastructure", "key"]
    list_select_related = ["infrastructure"]
    search_fields = ["name", "key"]


@admin.register(ModuleVersion)
class ModuleVersionAdmin(ReadOnlyAdmin):
    list_display = ["module", "number", "digest", "marked_code", "created_at"]
    list_select_related = ["module"]
    exclude = ["wrapped_key"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["module", "version", "environment", "is_current", "deployed_at"]
    list_select_related = ["module", "version", "environment"]
