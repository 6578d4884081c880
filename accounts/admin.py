"""Accounts admin: households, their profiles, and the API tokens their devices hold."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from config.admin_deletion import CountedDeletionAdminMixin
from config.admin_history import inline_deletions_unnamed
from config.admin_households import history_rows_unnamed, household_shown, households_named
from config.admin_lists import IndexedSearchAdminMixin, count_subquery
from config.admin_users import usernames_by_id, users_shown
from config.permissions import may_view
from console.access import HOUSEHOLDS, can_view
from profiles.admin import ProfileInline, ServiceRefusalAdminMixin
from profiles.models import Profile

from .models import Account, ApiToken
from .services import (
    account_delete,
    account_profiles_cluster_settle,
    api_token_create,
    api_token_rename,
    api_tokens_delete,
    api_tokens_revoke,
)


class ApiTokenInline(admin.TabularInline):
    """The household's tokens, for reading; new keys are issued on the token page."""

    model = ApiToken
    fields = ("key_prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    show_change_link = True
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        # Each row's heading is the token's str(), which names its account.
        return super().get_queryset(request).select_related("account")


@admin.register(Account)
@usernames_by_id(users=users_shown("users", "users"))
class AccountAdmin(
    CountedDeletionAdminMixin, IndexedSearchAdminMixin, ServiceRefusalAdminMixin, admin.ModelAdmin
):
    list_display = ("name", "home_region", "profile_count", "external_id", "created_at")
    list_select_related = ("home_region",)
    list_filter = ("home_region",)
    search_fields = ("name", "=id", "=external_id", "users__username", "users__email")
    search_help_text = (
        "Household name, its id (as the profile list shows it: #12), a member's username or "
        "e-mail, or an exact external id."
    )
    date_hierarchy = "created_at"
    autocomplete_fields = ("home_region", "users")
    readonly_fields = ("created_at",)
    fields = ("name", "home_region", "users", "external_id", "created_at")
    inlines = (ProfileInline, ApiTokenInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return (
            super().get_queryset(request).annotate(profile_count=count_subquery(Profile, "account"))
        )

    @admin.display(description="profiles", ordering="profile_count")
    def profile_count(self, obj: Account) -> int:
        return obj.profile_count

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> list[dict]:
        # A profile deleted on this page is gone by the time the page's change is logged.
        return inline_deletions_unnamed(
            super().construct_change_message(request, form, formsets, add)
        )

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The household's history, its profiles and tokens named by ids to staff who may not
        view them, as its page shows such staff none of their rows.

        Each row was logged by its own name ("Added profile “Priya (The Sharmas)”"): a
        profile's name is the household's data, which a support agent given households
        alone is not to read.
        """
        response = super().history_view(request, object_id, extra_context)
        context = getattr(response, "context_data", None) or {}
        household = context.get("object")
        if household is None or "action_list" not in context:
            return response
        hidden = {
            str(inline.model._meta.verbose_name): inline.model._default_manager.filter(
                account=household
            ).select_related("account")
            for inline in self.inlines
            if not may_view(request.user, inline.model._meta.label_lower)
        }
        if hidden:
            history_rows_unnamed(context["action_list"], hidden)
        return response

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "home_region" in form.changed_data:
            account_profiles_cluster_settle(account=obj)

    def delete_model(self, request: HttpRequest, obj: Account) -> None:
        account_delete(account=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            account_delete(account=account)


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
@households_named(account=household_shown)
class ApiTokenAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    """Tokens are issued here; the key is shown once, on the page after "Save".

    Only a digest is stored, so a lost key cannot be recovered: revoke it and
    issue another.
    """

    list_display = (
        "key_prefix",
        "account",
        "name",
        "created_at",
        "last_used_at",
        "is_active",
        "revoked_at",
    )
    list_select_related = ("account",)
    list_filter = (TokenStateFilter, "created_at")
    search_fields = ("^key_prefix", "name", "account__name")
    search_help_text = "The key's first characters, the token's name, or the household's name."
    search_help_text_without_households = "The key's first characters or the token's name."
    autocomplete_fields = ("account",)
    actions = ("revoke_tokens",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A key reads all the household's devices can (its profiles' signals, homepages,
        # history): minting one is seeing the household, which the console allows only with
        # view permission on accounts, profiles and signals. ``add_apitoken`` alone is not.
        return super().has_add_permission(request) and can_view(request.user, HOUSEHOLDS)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple:
        if obj is None:
            return ("account", "name")
        return ("account", "name", "key_prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple:
        if obj is None:
            return ()
        # Revoking goes through the action so that it is stamped by the service.
        return ("account", "key_prefix", "created_at", "last_used_at", "revoked_at")

    @admin.display(description="active", boolean=True)
    def is_active(self, obj: ApiToken) -> bool:
        return obj.is_active

    def save_model(self, request: HttpRequest, obj: ApiToken, form: object, change: bool) -> None:
        if change:
            # The name is the one field a change page edits (get_readonly_fields).
            api_token_rename(token=obj, name=obj.name)
            return
        token, key = api_token_create(account=obj.account, name=obj.name)
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(token, field.attname))
        obj._state.adding = False
        obj._state.db = token._state.db
        messages.success(
            request,
            format_html(
                "The new key is <code>{}</code>. Copy it now: only its digest is stored, "
                "so it will not be shown again.",
                key,
            ),
        )

    def delete_model(self, request: HttpRequest, obj: ApiToken) -> None:
        api_tokens_delete(tokens=ApiToken.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        api_tokens_delete(tokens=queryset)

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = api_tokens_revoke(tokens=queryset)
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)
