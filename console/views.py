"""Staff pages: a profile's homepage, a household side by side, why a title is there, models.

Every homepage here comes from the real decision code,
:func:`recommendations.serving.homepage.homepage_build`, and never from
:func:`recommendations.services.homepage.homepage_render`: that one logs the
page, and the page log is what rankers train on and plays are attributed to,
so a staff preview must not be in it.

Each page asks for the model permissions of what it shows (:mod:`console.access`):
being staff is not enough to see households.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from artwork.charts import take_rate_chart
from artwork.models import ArtworkPolicy, ArtworkVariant
from artwork.selection import artwork_choose, artwork_reasons
from artwork.selectors import artwork_variants_stats
from catalog.selectors import title_names
from config.api.strict import query_repeated
from config.ids import id_from_text
from profiles.models import Profile
from recommendations.models import ModelVersion
from recommendations.schedules import ARTWORK_UPDATE_EVERY_SECONDS
from recommendations.serving.bundle import ServingBundle
from recommendations.serving.cache import NoActiveModel, model_cache, version_bundle
from recommendations.serving.explain import (
    FeatureContribution,
    TitleExplanation,
    UnknownTitle,
    title_explanation,
)
from recommendations.serving.homepage import Page, PageItem, PageRow, RowTrace, homepage_build
from recommendations.serving.row_copy import copy_language
from recommendations.serving.row_explain import RowExplanation, row_explanations
from regions.models import Region

from . import model_charts, selectors
from .access import ARTWORK, HOUSEHOLDS, MODELS, can_view, console_page
from .forms import MomentForm, PreviewForm, RowWhyForm, SearchForm, WhyForm, bound_with_defaults
from .moments import WEEKDAYS, local_moment, region_zone, region_zone_label
from .pages import WhyUrl, page_find, page_rows, page_titles, shared_titles
from .versions import ServedBy, artefacts_stored, page_diff, served_by

PREVIEW_ROWS, PREVIEW_ITEMS = 12, 20
# Side by side, each column is narrower: fewer titles per row, fewer rows.
COMPARE_ROWS, COMPARE_ITEMS = 8, 12


def _moment_defaults(zone: dt.tzinfo, *, rows: int, items: int) -> dict[str, object]:
    """Now in the household's time zone, on a TV."""
    local = timezone.now().astimezone(zone)
    return {
        "device": "tv",
        "weekday": local.weekday(),
        "hour": local.hour,
        "rows": rows,
        "items": items,
    }


def _moment(form: MomentForm, zone: dt.tzinfo) -> dt.datetime:
    return local_moment(
        weekday=form.cleaned_data["weekday"],
        hour=form.cleaned_data["hour"],
        zone=zone,
        now=timezone.now(),
    )


def _moment_label(at: dt.datetime, region: Region) -> str:
    return f"{WEEKDAYS[at.weekday()]} {at:%H:%M} ({region_zone_label(region)}), {at:%d %b %Y}"


def _why_url(profile: Profile, form: MomentForm, version: ModelVersion | None = None) -> WhyUrl:
    """Links from a tile to its explanation, carrying the page's device and moment, and the
    version chosen to build it with, if one was."""
    moment: dict[str, object] = {
        name: form.cleaned_data[name] for name in ("device", "weekday", "hour", "rows", "items")
    }
    if version is not None:
        moment["version"] = version.pk
    base = reverse("console:why")

    def url(row: PageRow, position: int, item: PageItem) -> str:
        query = {**moment, "profile": profile.pk, "title": item.title_id, "row": row.id}
        if item.variant_id is not None:
            # What the tile showed: the artwork choice is drawn per page, so a rebuilt
            # page may pick another variant; the explanation is of the one clicked.
            query["variant"] = item.variant_id
            query["propensity"] = item.propensity
        return f"{base}?{urlencode(query)}"

    return url


def _build(
    profile: Profile,
    form: MomentForm,
    at: dt.datetime,
    bundle: ServingBundle | None = None,
    *,
    trace: RowTrace | None = None,
) -> Page:
    """The profile's homepage for the form's device and moment; built, never logged.

    ``bundle``: a version chosen instead of the serving one (the preview's version choice).
    """
    return homepage_build(
        profile=profile,
        device=form.cleaned_data["device"],
        at=at,
        n_rows=form.cleaned_data["rows"],
        n_items=form.cleaned_data["items"],
        bundle=bundle,
        trace=trace,
    )


@console_page(*HOUSEHOLDS)
def index(request: HttpRequest) -> HttpResponse:
    """Find a household to look at."""
    form = bound_with_defaults(SearchForm, request.GET, {})
    if not form.is_valid():
        return render(request, "console/index.html", {"form": form}, status=400)
    query = form.cleaned_data["q"]
    return render(
        request,
        "console/index.html",
        {"form": form, "query": query, "accounts": selectors.account_search(query=query)},
    )


def _household(
    request: HttpRequest,
) -> tuple[Account, list[Profile], dt.tzinfo] | HttpResponse:
    """The ``account`` a page asks about, its profiles and its region's time zone (404 if
    unknown); when the parameter is missing or not an id, the redirect to the household
    search, which every household page answers with.

    A repeated parameter is refused first, as the API refuses it: the household search's
    400 names it when the household is not one known account given once
    (``?account=1&account=999`` was a 404 about the account read last, and
    ``?account=1&account=x`` a quiet redirect). With one known household, the page's own
    form names the repeats, beside the household's controls."""
    account_id = id_from_text(request.GET.get("account", ""))
    repeated = query_repeated(request.GET)
    if repeated and (
        "account" in repeated
        or account_id is None
        or not selectors.account_exists(account_id=account_id)
    ):
        form = bound_with_defaults(SearchForm, request.GET, {})
        return render(request, "console/index.html", {"form": form}, status=400)
    if account_id is None:
        return redirect("console:index")
    account = selectors.account_get(account_id=account_id)
    profiles = selectors.account_profiles(account=account)
    return account, profiles, region_zone(account.home_region)


def _isolated(name: str) -> str:
    """A household's name between FSI and PDI, for a sentence: a direction override left open
    in the name (U+202E) otherwise reverses the sentence's words after it, as templates
    prevent with ``<bdi>``; this text also goes out as plain text."""
    return f"\u2068{name}\u2069"


def _version_label(version: ModelVersion, serving_id: int) -> str:
    serving = ", serving now" if version.pk == serving_id else ""
    made = version.trained_at or version.created_at
    return f"#{version.pk} · {version.get_status_display()} · {made:%Y-%m-%d %H:%M}{serving}"


def _scope_versions(served: ServedBy, profile: Profile) -> list[ModelVersion]:
    """The versions of the scope serving the profile that could build its page instead."""
    if not served.scope:
        return []
    versions = selectors.scope_versions_stored(
        scope=served.scope,
        region_code=profile.account.home_region_id,
        cluster_id=profile.taste_cluster_id,
    )
    return [v for v in versions if v.pk == served.version_id or artefacts_stored(v)]


def _version_chosen(
    profile: Profile, served: ServedBy, versions: list[ModelVersion], chosen_id: int
) -> ModelVersion | str:
    """The chosen version among the serving scope's stored ``versions``, or why not."""
    chosen = next((v for v in versions if v.pk == chosen_id), None)
    if chosen is None:
        return (
            f"Version #{chosen_id} is not a stored version of the scope serving "
            f"{_isolated(profile.name)} ({served.scope_label})."
        )
    return chosen


class _VersionRefused(Exception):
    """A chosen version that cannot build the profile's page, and the status that says so."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def _chosen_bundle(
    profile: Profile, *, serving_id: int, chosen_id: int
) -> tuple[ModelVersion, ServingBundle]:
    """The chosen version and its loaded artefacts, for the pages that explain its page.

    The "why" pages accept exactly the versions the preview's menu offers (the serving
    scope's stored versions), so a link can only explain a page the preview could draw;
    ``profile`` needs ``account__home_region`` loaded.

    Raises
    ------
    _VersionRefused
        400: not a stored version of the scope serving the profile; 503: its artefacts
        cannot be read.
    """
    served = served_by(profile=profile, version_id=serving_id, active=model_cache.versions())
    chosen = _version_chosen(profile, served, _scope_versions(served, profile), chosen_id)
    if isinstance(chosen, str):
        raise _VersionRefused(chosen, status=400)
    try:
        bundle = version_bundle(version_id=chosen.pk, artefact_key=chosen.artefact_key)
    except (OSError, ValueError, KeyError):
        raise _VersionRefused(
            f"Version #{chosen.pk}'s artefacts cannot be read.", status=503
        ) from None
    return chosen, bundle


def _preview_back_url(profile: Profile, data: dict[str, object]) -> str:
    """A "why" page's way back: the preview it explains, at the same moment and size and
    under the same chosen version (``data``: the why form's cleaned data)."""
    query = {
        "account": profile.account_id,
        "profile": profile.pk,
        **{k: data[k] for k in ("device", "weekday", "hour", "rows", "items")},
        **({"version": data["version"]} if data["version"] is not None else {}),
    }
    return f"{reverse('console:preview')}?{urlencode(query)}"


@dataclass(frozen=True, slots=True)
class _WhyPage:
    """The page a "why" page explains, rebuilt under the version its link names."""

    page: Page
    chosen: ModelVersion | None  # None: the serving version built it
    bundle: ServingBundle | None  # the chosen version's artefacts, which explain it too
    trace: RowTrace | None  # the build's trace, when one was asked for


def _why_page(
    request: HttpRequest,
    profile: Profile,
    form: MomentForm,
    at: dt.datetime,
    *,
    chosen_id: int | None,
    traced: bool = False,
) -> _WhyPage:
    """The profile's page for a "why" page, built by the version ``chosen_id`` names if it
    is not the serving one, so that both "why" pages accept a version as the preview does.

    The serving page is built first: only it tells which version serves, and when the
    chosen id is the serving version's, it is the page to explain.

    Raises
    ------
    PermissionDenied
        A version chosen by staff who may not view model versions.
    _VersionRefused
        As :func:`_chosen_bundle` refuses the chosen version (400 or 503).
    NoActiveModel
        No version serves the profile.
    """
    if chosen_id is not None and not can_view(request.user, MODELS):
        raise PermissionDenied  # as the preview refuses to build with a chosen version
    trace = RowTrace() if traced else None
    page = _build(profile, form, at, trace=trace)
    if chosen_id is None or chosen_id == page.model_version:
        return _WhyPage(page=page, chosen=None, bundle=None, trace=trace)
    chosen, bundle = _chosen_bundle(profile, serving_id=page.model_version, chosen_id=chosen_id)
    # The serving page only told which version serves; the trace is the chosen one's.
    trace = RowTrace() if traced else None
    page = _build(profile, form, at, bundle=bundle, trace=trace)
    return _WhyPage(page=page, chosen=chosen, bundle=bundle, trace=trace)


@console_page(*HOUSEHOLDS)
def preview(request: HttpRequest) -> HttpResponse:
    """One profile's homepage as a client would draw it, for a device and a local moment.

    Which scope's version serves it, and why that scope, is said in words. Staff who may
    also view model versions (the models pages' permissions) may build it with another
    version of that scope (``version``) and see its rows against the serving version's
    (``diff``); for others those parameters are refused, as the models pages are. The
    chosen version is loaded beside, never into, the serving cache
    (:func:`~recommendations.serving.cache.version_bundle`).
    """
    household = _household(request)
    if isinstance(household, HttpResponse):
        return household
    account, profiles, zone = household
    if not profiles:
        return _no_profiles(request, "console/preview.html", account)
    defaults = _moment_defaults(zone, rows=PREVIEW_ROWS, items=PREVIEW_ITEMS)
    defaults["profile"] = profiles[0].pk
    form = bound_with_defaults(PreviewForm, request.GET, defaults, profiles=profiles)
    context: dict[str, object] = {"account": account, "profiles": profiles, "form": form}
    if not form.is_valid():
        return render(request, "console/preview.html", context, status=400)
    profile = next(p for p in profiles if p.pk == form.cleaned_data["profile"])
    at = _moment(form, zone)
    context.update(profile=profile, moment=_moment_label(at, account.home_region))
    models_visible = can_view(request.user, MODELS)
    chosen_id = form.cleaned_data["version"]
    if not models_visible and (chosen_id is not None or form.cleaned_data["diff"]):
        raise PermissionDenied
    try:
        page = _build(profile, form, at)
    except NoActiveModel as missing:
        context["error"] = str(missing)
        return render(request, "console/preview.html", context, status=503)
    served = served_by(
        profile=profile, version_id=page.model_version, active=model_cache.versions()
    )
    context.update(served=served, serving_page=page, models_visible=models_visible)
    if models_visible:
        versions = _scope_versions(served, profile)
        context["versions"] = [(v.pk, _version_label(v, page.model_version)) for v in versions]
        if chosen_id is not None and chosen_id != page.model_version:
            chosen = _version_chosen(profile, served, versions, chosen_id)
            if isinstance(chosen, str):
                form.add_error("version", chosen)
                return render(request, "console/preview.html", context, status=400)
            try:
                bundle = version_bundle(version_id=chosen.pk, artefact_key=chosen.artefact_key)
            except (OSError, ValueError, KeyError):
                context["error"] = f"Version #{chosen.pk}'s artefacts cannot be read."
                return render(request, "console/preview.html", context, status=503)
            serving_page, page = page, _build(profile, form, at, bundle=bundle)
            context.update(chosen=chosen, serving_page=serving_page)
            if form.cleaned_data["diff"]:
                diff = page_diff(chosen=page, active=serving_page)
                chosen_why, serving_why = (
                    _row_why_url(profile, form, version_id=chosen.pk),
                    _row_why_url(profile, form),
                )
                # Each row's place on either page links to why it is there, under the
                # version that put it there.
                context.update(
                    diff=diff,
                    diff_rows=[
                        (
                            change,
                            chosen_why(change.id) if change.chosen else "",
                            serving_why(change.id) if change.active else "",
                        )
                        for change in diff.rows
                    ],
                )
    chosen_version = context.get("chosen")
    # A chosen version's rows are explained under that version, as its titles are.
    row_why = _row_why_url(profile, form, version_id=chosen_version.pk if chosen_version else None)
    context.update(
        page=page,
        rows=page_rows(
            page,
            why_url=_why_url(profile, form, version=chosen_version),
            row_why_url=row_why,
        ),
        rows_why_url=row_why(None),
        copy_language=copy_language(profile.display_language_id),
        compare_url=f"{reverse('console:compare')}?{urlencode(_compare_query(account, form))}",
    )
    return render(request, "console/preview.html", context)


def _no_profiles(request: HttpRequest, template: str, account: Account) -> HttpResponse:
    """A household page of a household without profiles: that, without the page's controls.

    No form: bound, the preview's reported its profile field missing (a field it cannot
    show), and there is no page to build for any device or moment. A parameter given twice
    is still refused, on the household search, as every household page refuses it.
    """
    if query_repeated(request.GET):
        form = bound_with_defaults(SearchForm, request.GET, {})
        return render(request, "console/index.html", {"form": form}, status=400)
    context = {"account": account, "profiles": [], "error": "This household has no profiles yet."}
    return render(request, template, context)


def _compare_query(account: Account, form: MomentForm) -> dict[str, object]:
    moment = {name: form.cleaned_data[name] for name in ("device", "weekday", "hour")}
    return {"account": account.pk, **moment}


@dataclass
class _Column:
    profile: Profile
    page: Page | None
    rows: list = field(default_factory=list)
    preview_url: str = ""
    overlap: int = 0  # titles this profile shares with at least one other
    copy_language: str = ""  # what its rows' titles and reasons are written in


@console_page(*HOUSEHOLDS)
def compare(request: HttpRequest) -> HttpResponse:
    """Every profile of one household side by side, same device and moment; shared titles lit."""
    household = _household(request)
    if isinstance(household, HttpResponse):
        return household
    account, profiles, zone = household
    if not profiles:
        return _no_profiles(request, "console/compare.html", account)
    defaults = _moment_defaults(zone, rows=COMPARE_ROWS, items=COMPARE_ITEMS)
    form = bound_with_defaults(MomentForm, request.GET, defaults)
    context: dict[str, object] = {"account": account, "profiles": profiles, "form": form}
    if not form.is_valid():
        return render(request, "console/compare.html", context, status=400)
    at = _moment(form, zone)
    context["moment"] = _moment_label(at, account.home_region)
    try:
        pages = [(profile, _build(profile, form, at)) for profile in profiles]
    except NoActiveModel as missing:
        context["error"] = str(missing)
        return render(request, "console/compare.html", context, status=503)
    shared = shared_titles(pages)
    numbers = {s.title_id: s.number for s in shared}
    columns = []
    for profile, page in pages:
        query = {"account": account.pk, "profile": profile.pk}
        query.update({k: form.cleaned_data[k] for k in ("device", "weekday", "hour")})
        columns.append(
            _Column(
                profile=profile,
                page=page,
                rows=page_rows(
                    page,
                    why_url=_why_url(profile, form),
                    shared=numbers,
                    row_why_url=_row_why_url(profile, form),
                ),
                preview_url=f"{reverse('console:preview')}?{urlencode(query)}",
                overlap=len(page_titles(page) & numbers.keys()),
                copy_language=copy_language(profile.display_language_id),
            )
        )
    context.update(columns=columns, shared=shared)
    return render(request, "console/compare.html", context)


# --- Why this ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArtworkArm:
    """One variant of the title, as an arm the artwork choice could pick for this page."""

    variant: ArtworkVariant
    themes: tuple[str, ...]
    eligible: bool  # active, meant for the device, within the profile's maturity limit
    shown: bool
    # The artwork policy's estimated take rate for this profile, device and moment, and
    # the probability it gives the arm now; None for arms the policy cannot pick here.
    estimate: float | None = None
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class ArtworkReasons:
    variant: ArtworkVariant | None  # the one on the page; None: the placeholder
    propensity: float | None
    arms: tuple[ArtworkArm, ...]
    policy_id: int | None = None  # None: the policy's prior (no update has run yet)


def _artwork_reasons(
    *,
    title_id: int,
    profile: Profile,
    device: str,
    at: dt.datetime,
    shown_id: int | None,
    propensity: float | None,
    taste: dict[str, float],
    hour: int,
) -> ArtworkReasons:
    """Why this artwork: every variant of the title as the policy sees it for this page.

    The policy is asked again for this profile's taste, the device and the
    hour (:func:`artwork.selection.artwork_choose`): each eligible arm gets the
    policy's estimated take rate and the probability the policy gives it now
    (from fresh posterior draws: close to, not identical with, the propensity
    logged with the page, which the panel shows separately).
    Eligibility is serving's own rule (device class with its any-device
    fallback, maturity limit, active), not a copy of it.
    """
    picks = artwork_choose(
        title_ids=[title_id],
        device=device,
        maturity_limit=profile.maturity_limit,
        taste=taste,
        hour=hour,
        seed=0,
    )
    by_variant = {reason.variant_id: reason for reason in artwork_reasons(picks).get(0, [])}
    variants = selectors.title_variants(title_id=title_id)
    arms = tuple(
        ArtworkArm(
            variant=v,
            themes=tuple(theme.name for theme in v.themes.all()),
            eligible=v.pk in by_variant,
            shown=v.pk == shown_id,
            estimate=by_variant[v.pk].estimate if v.pk in by_variant else None,
            probability=by_variant[v.pk].probability if v.pk in by_variant else None,
        )
        for v in variants
    )
    return ArtworkReasons(
        variant=next((arm.variant for arm in arms if arm.shown), None),
        propensity=propensity,
        arms=arms,
        policy_id=picks.state.policy_id,
    )


def _feature_bars(
    explanation: TitleExplanation, *, context: bool
) -> list[tuple[FeatureContribution, int]]:
    """The title's (or the context's) ranking terms, each with its bar length in percent.

    Bars are scaled within their group: context terms are often the largest and
    would flatten the title's own terms, which are the point of the panel.
    """
    group = [f for f in explanation.features if f.context == context]
    largest = max((abs(f.contribution) for f in group), default=0.0) or 1.0
    return [(f, round(100 * abs(f.contribution) / largest)) for f in group]


@console_page(*HOUSEHOLDS)
def why(request: HttpRequest) -> HttpResponse:
    """Why a title is on a profile's page: its row, its candidate sources, its ranking terms.

    The page is rebuilt for the same device and moment (not logged) to find the
    title's row and artwork, and the explanation recomputes the ranking inputs;
    both are deterministic for a given moment and model version.
    ``?fragment=1`` returns only the panel, for the preview's dialog.

    Its artwork section lists the title's variants with the artwork policy's figures
    for each: only for staff who may view what the artwork page shows, as admin
    refuses variants and policies to the others, who get a line saying so instead.
    """
    defaults = {"device": "tv", "rows": PREVIEW_ROWS, "items": PREVIEW_ITEMS}
    form = bound_with_defaults(WhyForm, request.GET, defaults)
    if not form.is_valid():
        # A bare list of the form's errors, for a hand-written query (the preview's links
        # always carry every parameter): plain text, or a browser runs it into one line.
        return HttpResponseBadRequest(
            form.errors.as_text(), content_type="text/plain; charset=utf-8"
        )
    data = form.cleaned_data
    profile = get_object_or_404(
        Profile.objects.select_related("account__home_region"), pk=data["profile"]
    )
    region = profile.account.home_region
    zone = region_zone(region)
    at = _moment(form, zone)
    title = selectors.title_get(title_id=data["title"])
    context: dict[str, object] = {
        "profile": profile,
        "title": title,
        # As the profile's rows name it, also when it is on none of them (the heading and
        # the tab read the original name then, beside rows in the profile's language).
        "title_name": title_names(title_ids=[title.pk], language=profile.display_language_id)[
            title.pk
        ],
        "device": data["device"],
        "moment": _moment_label(at, region),
        "preview_url": _preview_back_url(profile, data),
    }
    template = "console/_why.html" if request.GET.get("fragment") else "console/why.html"
    try:
        built = _why_page(request, profile, form, at, chosen_id=data["version"])
        page = built.page
        if built.chosen is not None:
            context["chosen"] = built.chosen
        explanation = title_explanation(
            profile=profile,
            device=data["device"],
            at=at,
            title_id=title.pk,
            model_version=page.model_version,
            bundle=built.bundle,
        )
    except _VersionRefused as refused:
        return _version_refused(request, template, context, refused)
    except NoActiveModel as missing:
        context["error"] = str(missing)
        return render(request, template, context, status=503)
    except UnknownTitle as unknown:
        context["error"] = f"{unknown}: it was added after the model was trained."
        return render(request, template, context, status=404)
    found = page_find(page, title_id=title.pk, row_id=data["row"])
    row, position, item = found if found else (None, None, None)
    if data["variant"] is not None:  # the tile clicked: what the page item carried
        shown_id, propensity = data["variant"], data["propensity"]
    else:
        shown_id = item.variant_id if item else None
        propensity = item.propensity if item else None
    context.update(
        copy_language=copy_language(profile.display_language_id),
        explanation=explanation,
        version_differs=explanation.model_version != page.model_version,
        page=page,
        row=row,
        row_number=page.rows.index(row) + 1 if row else None,
        position=position + 1 if position is not None else None,
        item=item,
        artwork=_artwork_reasons(
            title_id=title.pk,
            profile=profile,
            device=data["device"],
            at=at,
            shown_id=shown_id,
            propensity=propensity,
            taste=page.taste,
            hour=page.context.hour,
        )
        if can_view(request.user, ARTWORK)
        else None,
        title_features=_feature_bars(explanation, context=False),
        context_features=_feature_bars(explanation, context=True),
        context_total=sum(f.contribution for f in explanation.features if f.context),
    )
    return render(request, template, context)


def _version_refused(
    request: HttpRequest, template: str, context: dict[str, object], refused: _VersionRefused
) -> HttpResponse:
    """A "why" page's answer to a version it may not explain under: the version menu's
    reason as plain text (a 400, as for the page's other parameters), or the panel with
    the error."""
    if refused.status == 400:
        return HttpResponseBadRequest(str(refused), content_type="text/plain; charset=utf-8")
    context["error"] = str(refused)
    return render(request, template, context, status=refused.status)


# --- Why this row here -------------------------------------------------------------------------


def _row_why_url(
    profile: Profile, form: MomentForm, *, version_id: int | None = None
) -> Callable[[PageRow | str | None], str]:
    """Links to a row's explanation (a shown row, a candidate's id, or None: every candidate),
    under ``version_id`` when the page was built with a chosen version."""
    moment = {
        name: form.cleaned_data[name] for name in ("device", "weekday", "hour", "rows", "items")
    }
    if version_id is not None:
        moment["version"] = version_id
    base = reverse("console:row_why")

    def url(row: PageRow | str | None) -> str:
        query: dict[str, object] = {**moment, "profile": profile.pk}
        if row is not None:
            query["row"] = row if isinstance(row, str) else row.id
        return f"{base}?{urlencode(query)}"

    return url


def _row_feature_bars(explanation: RowExplanation) -> list[tuple[object, int]]:
    """The row's terms, largest first, each with its bar length in percent of the largest."""
    features = sorted(explanation.features, key=lambda f: -abs(f.contribution))
    largest = max((abs(f.contribution) for f in features), default=0.0) or 1.0
    return [(f, round(100 * abs(f.contribution) / largest)) for f in features]


@console_page(*HOUSEHOLDS)
def row_why(request: HttpRequest) -> HttpResponse:
    """Why a row is where it is on a profile's page: its score, its rank, its terms.

    The page is rebuilt for the same device and moment (not logged) with a
    :class:`~recommendations.serving.homepage.RowTrace`, so the features, scores
    and drops shown are those the build ordered the page by. Without ``row``,
    every candidate row, shown or not, with why each one not shown is not.
    ``?fragment=1`` returns only the panel, as the title's why does.

    ``version``: the page was built with that version instead of the serving one (the
    preview's choice); its rows are explained with its own row ranker, and the same
    permissions and versions are accepted as the preview accepts.
    """
    defaults = {"device": "tv", "rows": PREVIEW_ROWS, "items": PREVIEW_ITEMS}
    form = bound_with_defaults(RowWhyForm, request.GET, defaults)
    if not form.is_valid():
        return HttpResponseBadRequest(
            form.errors.as_text(), content_type="text/plain; charset=utf-8"
        )
    data = form.cleaned_data
    profile = get_object_or_404(
        Profile.objects.select_related("account__home_region", "display_language"),
        pk=data["profile"],
    )
    region = profile.account.home_region
    at = _moment(form, region_zone(region))
    chosen_id = data["version"]
    link = _row_why_url(profile, form, version_id=chosen_id)
    context: dict[str, object] = {
        "profile": profile,
        "device": data["device"],
        "moment": _moment_label(at, region),
        "n_rows": data["rows"],
        "all_url": link(None),
        "preview_url": _preview_back_url(profile, data),
    }
    template = "console/_row_why.html" if request.GET.get("fragment") else "console/row_why.html"
    try:
        built = _why_page(request, profile, form, at, chosen_id=chosen_id, traced=True)
    except _VersionRefused as refused:
        return _version_refused(request, template, context, refused)
    except NoActiveModel as missing:
        context["error"] = str(missing)
        return render(request, template, context, status=503)
    page, trace = built.page, built.trace
    if built.chosen is not None:
        context["chosen"] = built.chosen
    candidates = row_explanations(trace)
    selected = next((c for c in candidates if c.row_id == data["row"]), None)
    context.update(
        page=page,
        row_ranker=trace.ranker.mode if trace.ranker else page.row_ranker,
        copy_language=copy_language(profile.display_language_id),
        candidates=[(c, link(c.row_id)) for c in candidates],
        selected=selected,
        features=_row_feature_bars(selected) if selected else [],
    )
    if data["row"] and selected is None:
        context["error"] = (
            f"No candidate row {data['row']!r} on this page now: the generators did not "
            "propose it for this profile, device and moment."
        )
        return render(request, template, context, status=404)
    return render(request, template, context)


# --- Models -----------------------------------------------------------------------------------


@console_page(*MODELS)
def model_overview(request: HttpRequest) -> HttpResponse:
    """Every region's model versions over time, and its taste clusters' retraining histories."""
    regions = selectors.regions_with_clusters()
    newest = selectors.region_versions()
    serving = selectors.serving_versions()
    sections = []
    for region in regions:
        versions = newest.get(region.code, [])
        clusters = list(region.taste_clusters.all())
        sections.append(
            {
                "region": region,
                **_versions_listed(versions, serving.get(region.code)),
                "charts": model_charts.version_charts(versions[::-1]),
                "clusters": clusters,
                # A write that bypassed regions.services may leave a region's clusters with
                # no default: its assignment then puts everybody no keyed community holds in
                # the first cluster by slug (tonight.W008 says so at migrate).
                "holding_all": (
                    min(clusters, key=lambda cluster: cluster.slug)
                    if clusters and not any(cluster.is_default for cluster in clusters)
                    else None
                ),
            }
        )
    global_versions = list(
        selectors.scope_versions(scope=ModelVersion.Scope.GLOBAL)[: selectors.VERSIONS_CHARTED]
    )
    listed = _versions_listed(global_versions, serving.get(None))
    return render(
        request,
        "console/models.html",
        {
            "sections": sections,
            "global_versions": listed["versions"],
            "global_serving": listed["serving"],
            "global_charts": model_charts.version_charts(global_versions[::-1]),
        },
    )


#: Versions of a scope the overview's table lists, newest first (its chart has more).
VERSIONS_LISTED = 5


def _versions_listed(newest: list[ModelVersion], serving: ModelVersion | None) -> dict[str, object]:
    """A scope's table: its newest versions, and the serving one when it is older than those.

    ``newest`` is newest first; ``serving`` the scope's active version, if any.
    """
    versions = newest[:VERSIONS_LISTED]
    if serving is None or any(v.pk == serving.pk for v in versions):
        return {"versions": versions, "serving": None}
    return {"versions": versions, "serving": serving}


@console_page(*MODELS)
def model_cluster(request: HttpRequest, region_code: str, slug: str) -> HttpResponse:
    """One (region, cluster): its retrains with holdout figures charted run after run."""
    cluster = selectors.cluster_get(region_code=region_code, slug=slug)
    runs = selectors.cluster_runs(cluster=cluster)
    versions = list(
        selectors.scope_versions(scope=ModelVersion.Scope.CLUSTER, cluster=cluster)[
            : selectors.VERSIONS_CHARTED
        ]
    )
    return render(
        request,
        "console/model_cluster.html",
        {
            "cluster": cluster,
            "runs": [model_charts.run_row(run, cluster.slug) for run in runs[::-1]],
            "charts": model_charts.run_charts(runs, cluster.slug),
            "versions": versions,
        },
    )


#: Variants charted on the artwork page: the most shown ones since yesterday (whose
#: roll-ups are complete) began. Ranked from those days' roll-ups only: a row per
#: variant and device class a day, so a view reads what the catalogue shows in two
#: days (a week of 13,500 variants took 0.2 s, 1 s at 67,000), not the whole history.
ARTWORK_VARIANTS_CHARTED = 24
ARTWORK_RANKED_DAYS = 2
ARTWORK_POLICIES_CHARTED = 30


@console_page(*ARTWORK)
def artwork_overview(request: HttpRequest) -> HttpResponse:
    """The artwork policy's versions, and the most shown variants' take rates by device class."""
    policies = list(ArtworkPolicy.objects.order_by("-pk")[:ARTWORK_POLICIES_CHARTED])[::-1]
    today = timezone.now().date()
    variants = selectors.artwork_variants_most_shown(
        since=today - dt.timedelta(days=ARTWORK_RANKED_DAYS), limit=ARTWORK_VARIANTS_CHARTED
    )
    stats = artwork_variants_stats(variants=variants, today=today)
    return render(
        request,
        "console/artwork.html",
        {
            "policy_charts": model_charts.artwork_policy_charts(policies),
            "latest_policy": policies[-1] if policies else None,
            "update_minutes": ARTWORK_UPDATE_EVERY_SECONDS // 60,
            "variants": [
                {"variant": v, "chart": take_rate_chart(stats[v.pk]), "stats": stats[v.pk]}
                for v in variants
            ],
        },
    )
