"""Profiles admin. Every write goes through ``profiles.services``.

The services own the five-profile limit (under a row lock) and the slot a new
profile takes, so neither this page nor the account page's inline saves a
``Profile`` by itself.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import unquote
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet, model_to_dict
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as django_catalogue_gettext
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from redis.exceptions import RedisError

from accounts.models import Account
from config.admin_deletion import CountedDeletionAdminMixin
from config.admin_households import household_shown, households_named
from config.admin_inlines import InstanceRelationsForm, QueryOncePerInlineMixin
from config.admin_lists import IndexedSearchAdminMixin
from config.permissions import may_view

from .checks import cache_is_per_process
from .models import (
    KIDS_MATURITY_CAP,
    MAX_PROFILES_PER_ACCOUNT,
    PIN_LENGTH,
    Profile,
    validate_pin,
)
from .services import (
    LIMIT_MESSAGE,
    profile_change_locked,
    profile_create,
    profile_delete,
    profile_name_composed,
    profile_pin_lock_lift,
    profile_update,
    profiles_unlocks_end,
)
from .unlock import PinFailureThrottle, PinWindow, pin_lock_until

PIN_HELP = f"{PIN_LENGTH} digits. Stored hashed: it cannot be shown again, only replaced."
LIFT_PIN_LOCK = "Lift the wrong-PIN lock"
END_UNLOCKS = "End unlocks on every device"
#: Profiles whose admin log entries are built and written at once by the end-unlocks action.
_LOG_CHUNK = 1000
#: The request attribute where a service's refusal waits for the page built again.
_REFUSAL = "_profile_service_refusal"
#: The fields a change page posts back as it showed them too, to tell what staff changed,
#: and how a refusal names each.
_AS_OPENED = {
    "name": "name",
    "is_kids": "kids setting",
    "maturity_limit": "maturity limit",
    "display_language": "display language",
    "preferred_languages": "preferred languages",
}
_PIN_FIELDS = ("pin", "remove_pin")


class _ProfileGone(Exception):
    """The profile being saved was deleted after the admin read it."""


def _utc(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _window_used(window: PinWindow) -> str:
    """Attempts counted, which include those refused once the window was full."""
    spans = {60: "this minute", 3600: "this hour", 86_400: "today (UTC)"}
    span = spans.get(window.seconds, f"these {window.seconds} seconds")
    return f"{span}: {window.used} counted, limit {window.limit}"


def _adopt(target: Model, saved: Model) -> None:
    """Make the admin's unsaved instance the row a service saved.

    The admin keeps using the object it handed to ``save_model`` (for the log
    entry, the redirect and ``save_m2m``), so it must become the saved row.
    """
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


def _service_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": data["name"],
        "is_kids": data["is_kids"],
        "maturity_limit": data["maturity_limit"],
        "display_language": data.get("display_language"),
        "preferred_languages": list(data.get("preferred_languages") or ()),
    }


def _pin_stamp(profile: Profile) -> str:
    """Which PIN the page was opened with, in a form that tells nothing of the PIN's hash."""
    return salted_hmac(
        "profiles.admin.pin_as_opened", profile.pin_hash, algorithm="sha256"
    ).hexdigest()


def _changed_meanwhile(form: forms.ModelForm, profile: Profile) -> list[str]:
    """What staff changed that someone else has changed too since the page was opened.

    ``profile`` is the row as it is now, under the account's lock. Each field
    staff changed is compared, as the page showed it, with the row: Django's own
    ``has_changed``, with the row in place of the page's initial value. A page
    that did not post back what it showed counts as changed meanwhile.
    """
    now = model_to_dict(profile, fields=list(_AS_OPENED))
    clashes = []
    for name in form.changed_data:
        if name not in _AS_OPENED:
            continue
        field = form.fields[name]
        shown = field.hidden_widget().value_from_datadict(
            form.data, form.files, form[name].html_initial_name
        )
        if field.has_changed(now[name], shown):
            clashes.append(_AS_OPENED[name])
    pin_changed = any(name in form.changed_data for name in _PIN_FIELDS)
    shown_pin = form.cleaned_data.get("pin_as_opened") or ""
    if pin_changed and not constant_time_compare(shown_pin, _pin_stamp(profile)):
        clashes.append("PIN")
    return clashes


@sensitive_variables("data", "changes")
def _changes_save(
    form: forms.ModelForm, profile: Profile, *, whose: str = "this profile"
) -> Profile:
    """Write what staff changed on ``form`` to the profile as it is, under the account's lock.

    The lock is the one the API's changes take. The page's other values may be older
    than a household's change since (a kids limit, a PIN), which writing them back
    would undo; a field staff changed that was changed meanwhile too is refused.
    Raises :class:`_ProfileGone` for a profile deleted since the admin read it.
    """
    data = form.cleaned_data
    changes = {
        name: value for name, value in _service_fields(data).items() if name in form.changed_data
    }
    if data.get("remove_pin"):
        changes["pin"] = None
    elif data.get("pin"):
        changes["pin"] = data["pin"]
    try:
        with profile_change_locked(account=profile.account, profile_id=profile.pk) as fresh:
            clashes = _changed_meanwhile(form, fresh)
            if clashes:
                raise ValidationError(
                    f"Someone else changed the {' and '.join(clashes)} of {whose} since this "
                    "page was opened. Nothing was saved: open the page again to see the "
                    "profile as it is now, then make your change again.",
                    code="changed_meanwhile",
                )
            return profile_update(profile=fresh, **changes)
    except (Http404, ObjectDoesNotExist) as gone:
        raise _ProfileGone from gone


def _cap_kids_maturity(form: forms.ModelForm, data: dict[str, Any]) -> None:
    """Ticking "kids" without touching the limit caps it, as the services do.

    Only a limit the user actually chose above the cap is reported as an error.
    """
    if data.get("is_kids") and "maturity_limit" not in form.changed_data:
        current = data.get("maturity_limit")
        if current is None or current > KIDS_MATURITY_CAP:
            data["maturity_limit"] = KIDS_MATURITY_CAP


class ServiceRefusalAdminMixin:
    """Shows a ValidationError a profile service raised while saving as a form error.

    The admin validates its forms, then saves through the services, which
    re-check under the account's row lock and may still refuse: another request
    took the last slot, or the name, in between. That refusal used to be a 500.
    The admin's transaction has rolled back by then, so the page is built again
    from the same POST, with the refusal on the main form.
    """

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as refusal:
            if request.method != "POST" or hasattr(request, _REFUSAL):
                raise
            setattr(request, _REFUSAL, refusal)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        refusal: ValidationError | None = getattr(request, _REFUSAL, None)
        if refusal is None:
            return form

        class Refused(form):
            def clean(self) -> dict[str, Any]:
                data = super().clean()
                self.add_error(None, refusal.messages)
                return data

        return Refused


class ValuesAsOpenedForm(forms.ModelForm):
    """A form for a saved profile posts back the values it showed, beside the ones sent.

    ``changed_data`` then names what staff changed on the page, rather than what
    differs from the row as read when the form was posted, which a household's
    change made meanwhile also differs from (see :func:`_changes_save`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            return
        for name in _AS_OPENED:
            if name in self.fields:
                self.fields[name].show_hidden_initial = True


class ProfileInlineForm(ValuesAsOpenedForm, InstanceRelationsForm):
    class Meta:
        model = Profile
        fields = ("name", "is_kids", "maturity_limit", "display_language", "preferred_languages")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        _cap_kids_maturity(self, data)
        return data


class ProfileAdminForm(ValuesAsOpenedForm):
    pin = forms.CharField(
        label="New PIN",
        required=False,
        # As the API: blanks typed around it are refused, not trimmed into another PIN; and no
        # max_length, whose own message would stand beside the PIN's for "12345".
        strip=False,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password", "maxlength": PIN_LENGTH}
        ),
        validators=[validate_pin],
        help_text=PIN_HELP,
    )
    remove_pin = forms.BooleanField(label="Remove the PIN", required=False)
    pin_as_opened = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Profile
        fields = (
            "account",
            "name",
            "is_kids",
            "maturity_limit",
            "display_language",
            "preferred_languages",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["pin_as_opened"].initial = _pin_stamp(self.instance)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        _cap_kids_maturity(self, data)
        if data.get("pin") and data.get("remove_pin"):
            self.add_error("remove_pin", "Either set a new PIN or remove it, not both.")
        account = data.get("account")
        # Said here so the form shows it; the service re-checks under a lock.
        if (
            self.instance.pk is None
            and account is not None
            and account.profiles.count() >= MAX_PROFILES_PER_ACCOUNT
        ):
            self.add_error("account", LIMIT_MESSAGE)
        return data


@admin.register(Profile)
@households_named(household=household_shown, account=household_shown)
class ProfileAdmin(
    CountedDeletionAdminMixin, IndexedSearchAdminMixin, ServiceRefusalAdminMixin, admin.ModelAdmin
):
    form = ProfileAdminForm
    list_display = (
        "name",
        "household",
        "slot",
        "is_kids",
        "maturity_limit",
        "display_language",
        "taste_cluster",
        "has_pin",
        "created_at",
    )
    list_select_related = ("account", "display_language", "taste_cluster")
    # Households share names (the demo's "The Sinha family" is eleven of them): by name,
    # then by household, so each one's profiles stay together in slot order.
    ordering = ("account__name", "account_id", "slot")
    list_filter = (
        "is_kids",
        "maturity_limit",
        ("account__home_region", admin.RelatedFieldListFilter),
        "taste_cluster",
    )
    search_fields = (
        "name",
        "account__name",
        "=account__id",
        "=external_id",
        "=account__external_id",
        # Who writes to support: the member's sign-in, as the household list searches it.
        "account__users__username",
        "account__users__email",
    )
    search_help_text = (
        "Profile or household name, the household's id (#12, as the list shows it), a "
        "member's username or e-mail, or an exact external id."
    )
    search_help_text_without_households = (
        "Profile name, the household's id (#12, as the list shows it), or an exact external id."
    )
    autocomplete_fields = ("account", "display_language", "preferred_languages")
    actions = ("lift_pin_lock", "end_unlocks")

    _add_fieldsets = (
        (None, {"fields": ("account", "name", "is_kids", "maturity_limit")}),
        ("Languages", {"fields": ("display_language", "preferred_languages")}),
        ("PIN", {"fields": ("pin",)}),
    )
    _change_fieldsets = (
        (None, {"fields": ("account", "slot", "name", "is_kids", "maturity_limit")}),
        ("Languages", {"fields": ("display_language", "preferred_languages")}),
        ("PIN", {"fields": ("pin_status", "pin_lock", "pin", "remove_pin", "pin_as_opened")}),
        (
            "Learned and imported",
            {"fields": ("taste_cluster", "external_id", "created_at"), "classes": ("collapse",)},
        ),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Profile | None = None) -> tuple:
        return self._change_fieldsets if obj is not None else self._add_fieldsets

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        """Without the household picker for staff who may not view households: it searches
        and shows households' names, and Django's picker refuses them (a 403) anyway."""
        fields = tuple(super().get_autocomplete_fields(request))
        if may_view(request.user, "accounts.account"):
            return fields
        return tuple(field for field in fields if field != "account")

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        """The household by its id for staff who may not view households.

        The add page asked view on households for its picker, so staff who may add profiles
        but not view households could pick none: they give the household's id, as the
        profile list shows it (#12) and searches it (``account:12``), and read no name.
        """
        if db_field.name == "account" and not may_view(request.user, "accounts.account"):
            return forms.ModelChoiceField(
                queryset=Account.objects.only("pk"),
                widget=forms.NumberInput(attrs={"min": 1}),
                label="Household id",
                help_text="The household's id, as the profile list shows it: 12 for #12.",
                error_messages={"invalid_choice": "No household has this id."},
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Profile | None = None) -> tuple:
        if obj is None:
            return ()
        # A profile never moves between households (its slot is the account's), and
        # its cluster is recomputed by every retrain, so editing either would not stick.
        return (
            "account",
            "slot",
            "pin_status",
            "pin_lock",
            "taste_cluster",
            "external_id",
            "created_at",
        )

    @admin.display(description="account", ordering="account__name")
    def household(self, obj: Profile) -> str:
        """The household's name and id: several households may share a name."""
        return f"{obj.account.name} (#{obj.account_id})"

    @admin.display(description="PIN", boolean=True)
    def has_pin(self, obj: Profile) -> bool:
        return obj.has_pin

    @admin.display(description="PIN")
    def pin_status(self, obj: Profile) -> str:
        return "Set" if obj.has_pin else "Not set"

    @admin.display(description="Wrong-PIN lock")
    def pin_lock(self, obj: Profile) -> str:
        """Whether wrong PINs have locked the profile, so support can tell a household why."""
        if not obj.has_pin:
            return "No PIN"
        try:
            windows = PinFailureThrottle(obj).state()
        except RedisError:
            # The page is support's way to everything else about the profile: a cache outage
            # must cost this one line, not the page.
            return "Unknown: the cache that counts wrong PINs did not answer."
        used = "; ".join(_window_used(window) for window in windows)
        if cache_is_per_process():
            # As `make demo` runs: a wrong PIN another worker answered is not in these counts.
            used += "; counted by this server process only: REDIS_URL would share them"
        until = pin_lock_until(windows)
        if until is None:
            return f"Not locked ({used})."
        return (
            f"Locked until {_utc(until)}: even the right PIN is refused ({used}). "
            f'Lift it with the list\'s action "{LIFT_PIN_LOCK}", or set a new PIN.'
        )

    # Letting a household try PINs again is a change to the profile: a viewer must not.
    @admin.action(description=LIFT_PIN_LOCK, permissions=["change"])
    def lift_pin_lock(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        """Clear the selected profiles' wrong-PIN counters, each recorded in the admin log.

        Only profiles with a PIN are read, a chunk at a time: selected across a whole
        list, reading every profile (with its household, language and cluster) to skip
        those without one held 100,000 of them in memory. The others are counted.
        """
        without_pin = queryset.filter(pin_hash="").count()
        lifted = cleared = 0
        for profile in queryset.exclude(pin_hash="").iterator(chunk_size=500):
            until = profile_pin_lock_lift(profile=profile)
            if until is None:
                message = "Cleared the wrong-PIN count (the wrong-PIN lock was not on)."
                cleared += 1
            else:
                message = f"Lifted the wrong-PIN lock (it held until {_utc(until)})."
                lifted += 1
            self.log_change(request, profile, message)
        summary = [f"Wrong-PIN lock lifted on {lifted} profile(s)."]
        if cleared:
            summary.append(f"{cleared} were not locked; their counts were cleared.")
        if without_pin:
            summary.append(f"{without_pin} have no PIN.")
        self.message_user(request, " ".join(summary), messages.SUCCESS)

    # Ending unlocks changes what a household's devices may open: a viewer must not.
    @admin.action(description=END_UNLOCKS, permissions=["change"])
    def end_unlocks(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        """End every outstanding unlock of the selected PIN-protected profiles, on every device.

        What ``DELETE /api/v1/profiles/{id}/unlock/`` does for a household, for support
        ("my kid unlocked the adult profile"). A profile without a PIN gives no token that
        opens anything, so it is only counted. One ``UPDATE`` for the lot
        (:func:`profiles.services.profiles_unlocks_end`), then one admin log entry per
        profile, written a chunk at a time, as a list selected across 100,000 profiles
        must not be read into memory at once. Both in one transaction: the log never
        names a lock that was not made.
        """
        with_pin = queryset.exclude(pin_hash="")
        without_pin = queryset.filter(pin_hash="").count()
        with transaction.atomic():
            ended = profiles_unlocks_end(profiles=with_pin)
            # Named as str(profile) names it (with its household), without a query each; the
            # list's other joins are dropped, as their columns are not read.
            logged = (
                with_pin.select_related(None)
                .select_related("account")
                .only("pk", "name", "account__name")
            )
            chunk: list[Profile] = []
            for profile in logged.order_by("pk").iterator(chunk_size=_LOG_CHUNK):
                chunk.append(profile)
                if len(chunk) == _LOG_CHUNK:
                    self._log_unlocks_ended(request, chunk)
                    chunk = []
            if chunk:
                self._log_unlocks_ended(request, chunk)
        summary = [f"Unlocks ended on every device for {ended} profile(s)."]
        if without_pin:
            summary.append(f"{without_pin} have no PIN, so no unlock to end.")
        self.message_user(request, " ".join(summary), messages.SUCCESS)

    def _log_unlocks_ended(self, request: HttpRequest, profiles: list[Profile]) -> None:
        LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=profiles,
            action_flag=CHANGE,
            change_message=(
                "Ended its unlocks on every device: each unlock token given before now "
                "no longer opens it; its PIN opens it again."
            ),
        )

    @method_decorator(sensitive_post_parameters("pin"))
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """As the admin's, with the new PIN hidden from error reports of the request.

        A profile deleted between the admin's read and its save is answered as
        the admin answers one deleted before: a message, not a 500.
        """
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _ProfileGone:
            return self._gone_redirect(request, object_id)

    def _gone_redirect(self, request: HttpRequest, object_id: str | None) -> HttpResponse:
        """The admin's answer for an object that does not exist, its message word for word.

        Django's own (``_get_obj_does_not_exist_redirect``) is private and may
        change or go in any release; its message is reused through its translation
        catalogue, so the text stays Django's and so do its translations while Django keeps it.
        """
        # Under another name than gettext, so that makemessages leaves Django's message to
        # Django's catalogues instead of copying it untranslated into the project's.
        message = django_catalogue_gettext(
            "%(name)s with ID “%(key)s” doesn\N{RIGHT SINGLE QUOTATION MARK}t exist. "
            "Perhaps it was deleted?"
        ) % {"name": self.opts.verbose_name, "key": unquote(object_id or "")}
        self.message_user(request, message, messages.WARNING)
        return HttpResponseRedirect(reverse("admin:index", current_app=self.admin_site.name))

    @method_decorator(sensitive_variables("data"))
    def save_model(
        self, request: HttpRequest, obj: Profile, form: ProfileAdminForm, change: bool
    ) -> None:
        data = form.cleaned_data
        if not change:
            profile = profile_create(
                account=data["account"], pin=data.get("pin") or None, **_service_fields(data)
            )
            _adopt(obj, profile)
            if not may_view(request.user, "accounts.account"):
                # Its name in admin's message and log calls the household by its id, as
                # the rows admin reads for such staff do (``config.admin_households``).
                obj.household_shown_as = f"household #{obj.account_id}"
            return
        _adopt(obj, _changes_save(form, obj))

    def save_related(
        self, request: HttpRequest, form: ProfileAdminForm, formsets: list, change: bool
    ) -> None:
        # The services have already set the preferred languages.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: Profile) -> None:
        profile_delete(profile=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        for profile in queryset:
            profile_delete(profile=profile)


class ProfileInlineFormSet(BaseInlineFormSet):
    """Saves each row through the profile services instead of ``form.save()``."""

    def clean(self) -> None:
        """Refuse two rows with one name, as the database would (case ignored).

        Each row checks its name against the saved profiles only, so two new
        rows "Guest" and "guest", or a new row taking the name an existing row
        gives up, both passed, and the second save failed.
        """
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            name = getattr(form, "cleaned_data", {}).get("name")
            if not name or self._should_delete_form(form):
                continue
            # lower(), as the constraint's Lower("name"); casefold() would refuse more. Composed,
            # as the services store it.
            key = profile_name_composed(name).lower()
            if key in seen:
                form.add_error(
                    "name", "Another profile of this account has this name (case is ignored)."
                )
            seen.add(key)

    def save_new(self, form: forms.ModelForm, commit: bool = True) -> Profile:
        profile = profile_create(account=self.instance, **_service_fields(form.cleaned_data))
        _adopt(form.instance, profile)
        return form.instance

    def save_existing(self, form: forms.ModelForm, obj: Profile, commit: bool = True) -> Profile:
        # Named as the page shows it: ``obj`` holds the name staff typed by now.
        name = form.initial.get("name", obj.name)
        try:
            return _changes_save(form, obj, whose=f"the profile “{name}”")
        except _ProfileGone:
            raise ValidationError(
                f"The profile “{name}” was deleted since this page was opened. Nothing was "
                "saved: open the page again to see the account's profiles as they are now."
            ) from None

    def delete_existing(self, obj: Profile, commit: bool = True) -> None:
        if commit:
            profile_delete(profile=obj)


class ProfileInline(QueryOncePerInlineMixin, admin.TabularInline):
    """An account's profiles on the account's page (see ``accounts.admin.AccountAdmin``)."""

    model = Profile
    form = ProfileInlineForm
    formset = ProfileInlineFormSet
    fields = (
        "slot",
        "name",
        "is_kids",
        "maturity_limit",
        "display_language",
        "preferred_languages",
        "has_pin",
        "taste_cluster",
    )
    readonly_fields = ("slot", "has_pin", "taste_cluster")
    autocomplete_fields = ("display_language", "preferred_languages")
    max_num = MAX_PROFILES_PER_ACCOUNT
    show_change_link = True
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Profile]:
        # The languages for the rows' autocompletes; the account for their headings
        # (str(profile) names it).
        return (
            super()
            .get_queryset(request)
            .select_related("account", "taste_cluster", "display_language")
            .prefetch_related("preferred_languages")
        )

    def get_formset(
        self, request: HttpRequest, obj: Model | None = None, **kwargs: Any
    ) -> type[BaseInlineFormSet]:
        # Refuse a sixth row on the server too, not only by hiding "Add another". Only for
        # staff who may add profiles: for others Django allows no new row (max_num 0), and
        # the page's own rows, posted back, were refused as too many ("Please submit at
        # most 0 forms"), so staff who could not add a profile could not save the household.
        kwargs.setdefault("validate_max", self.has_add_permission(request, obj))
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="PIN", boolean=True)
    def has_pin(self, obj: Profile) -> bool:
        return obj.has_pin
