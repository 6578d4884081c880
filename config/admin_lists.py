"""Admin lists that keep rows a filter or search could repeat without ``SELECT DISTINCT``.

A filter or search through a many-to-many or reverse relation (a variant's
themes, a person's credits, a title's localised names) can match a row more than
once, and Django then makes the whole list ``DISTINCT``. The distinct key is
every selected column, the annotations included, so each annotation (a
variant's summed daily figures, a person's credit count) is computed for every
matching row before the page keeps a hundred, and the count does it again: 8 s
for the variants of one theme at 13,500 variants. Here the matching rows' keys
come from a semi-join (``pk IN (...)``) instead, and the list reads the page
from the admin's queryset as it would without the filter.

The lists' counts (a title's variants, a household's profiles) are correlated
subqueries for the same reason: :func:`count_subquery`, for the console's lists too.

Every list, ours and the installed apps' alike, also refuses a filter value no Python
date can hold as a bad lookup (:func:`lookup_values_checked`, applied by the admin site).
"""

from functools import cache
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db.models import (
    Count,
    Exists,
    Field,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.constants import LOOKUP_SEP
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.text import smart_split, unescape_string_literal

from config.ids import id_from_text
from config.lookups import Unaccented


def count_subquery(model: type[Model], fk: str) -> Coalesce:
    """Count ``model`` rows pointing at the outer row, as a correlated subquery.

    A ``Count()`` over a join would aggregate the whole related table before the
    page is cut; the subquery is evaluated only for the rows on the page, and
    several of them on one queryset do not multiply each other's joins.
    """
    counts = (
        model._default_manager.filter(**{fk: OuterRef("pk")})
        .order_by()
        .values(fk)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


class LookupValuesCheckedChangeList(ChangeList):
    """A changelist that refuses a filter value the ORM cannot convert, as a bad lookup.

    Django's changelist turns a filter it cannot apply into its redirect to the list
    with ``?e=1``, but only for errors raised while it builds the queryset. A year no
    ``date`` holds (``?created_at__year=20266``, ``=0``, ``__year__gt=99999``) raises
    ``ValueError`` only when the statement is compiled, from the page's count; and the
    date bar's bounds raise ``OverflowError`` (``?created_at__year=99999999999``) or
    ``ValueError`` (year 9999, whose next year is 10000) outside the ``ValueError`` it
    catches: each a 500, and an error report, for a mistyped address. Here both become
    :class:`IncorrectLookupParameters`. The statement is compiled once more for it
    (well under a millisecond), and only when the query string filters: with no filter
    an error is the list's own, and stays a 500 rather than a redirect that hides it.
    """

    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        queryset = super().get_queryset(request, exclude_parameters)
        if self.get_filters_params():
            try:
                queryset.query.get_compiler(queryset.db).as_sql()
            except EmptyResultSet:
                pass  # a filter that matches nothing (an id past a bigint): an empty page
            except (ValueError, OverflowError) as error:
                raise IncorrectLookupParameters(error) from error
        return queryset


@cache
def _checked_changelist(changelist: type[ChangeList]) -> type[ChangeList]:
    """``changelist`` with :class:`LookupValuesCheckedChangeList`'s checks before its own."""
    if issubclass(changelist, LookupValuesCheckedChangeList):
        return changelist
    return type(changelist.__name__, (LookupValuesCheckedChangeList, changelist), {})


class LookupValuesCheckedAdminMixin:
    """A ``ModelAdmin`` whose changelist, whichever it is, refuses unconvertible filter values."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _checked_changelist(super().get_changelist(request, **kwargs))  # type: ignore[misc]


@cache
def lookup_values_checked(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    """``admin_class`` with :class:`LookupValuesCheckedAdminMixin`, under its own name.

    The admin site registers every ``ModelAdmin`` so (``console.admin_site``): those of
    the installed apps (Django's users and groups, the beat schedules, the sign-in
    logs) have no base of ours, and an admin added later cannot forget it.
    """
    if issubclass(admin_class, LookupValuesCheckedAdminMixin):
        return admin_class
    return type(
        admin_class.__name__,
        (LookupValuesCheckedAdminMixin, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )


class SemiJoinChangeList(ChangeList):
    """A changelist whose repeated matches are removed by key, not by ``DISTINCT``."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        matched = super().get_queryset(request, exclude_parameters)
        if not matched.query.distinct or matched.query.distinct_fields:
            return matched
        rows = self.root_queryset.filter(pk__in=matched.order_by().values("pk"))
        if not rows.query.select_related:
            rows = self.apply_select_related(rows)
        return rows.order_by(*matched.query.order_by)


class SemiJoinAdminMixin:
    """For a ``ModelAdmin`` with annotations whose filters may repeat rows.

    A search of its own that may repeat rows is served the same way: the
    changelist removes its duplicates by key too. (Every such admin's search is
    :class:`IndexedSearchAdminMixin`'s, which never repeats a row.)
    """

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return SemiJoinChangeList


class OfferedChoicesFilter(admin.SimpleListFilter):
    """A list filter that takes only the values it offers (its ``lookups``).

    A ``SimpleListFilter`` hands its query-string value to its ``queryset`` as given:
    a value no row holds lists nothing, but one holding a NUL, which PostgreSQL
    refuses in text, was a 500. Any other value is refused as admin refuses a bad
    filter value, by its redirect to the list with ``?e=1``.
    """

    def choice(self) -> str | None:
        """The chosen value, None when none is (or ``?param=``); raises for a value the
        filter does not offer."""
        value = self.value()
        if not value:
            return None
        if value not in {str(offered) for offered, _ in self.lookup_choices}:
            raise IncorrectLookupParameters(f"{self.parameter_name}: not one of the choices")
        return value


#: The shortest term a trigram index can look up: shorter ones have no trigram.
TRIGRAM = 3


def _column(model: type[Model], path: str) -> Field | None:
    """The field ``path`` (``account__id``, ``name``) ends at, a key's target for a key;
    None for a path that is not fields alone."""
    opts, column = model._meta, None
    try:
        for piece in path.split(LOOKUP_SEP):
            if column is not None:
                if not column.is_relation:
                    return None
                opts = column.related_model._meta
            column = opts.pk if piece == "pk" else opts.get_field(piece)
    except FieldDoesNotExist:
        return None
    if column.many_to_one or column.one_to_one:
        column = column.target_field
    return column


def _search_lookup(model: type[Model], field: str, *, prefix: bool = False) -> str:
    """The ORM lookup of one ``search_fields`` entry, as Django's own search builds it,
    but for a text column's substring match, which also ignores accents.

    ``=`` stays ``iexact``, never ``exact``: ``iexact`` compares the column as text,
    so on a number (``=id``) a term that is no number ("abc") matches nothing, as in
    Django's search, where ``exact`` would raise converting it (a 500). An ``=`` on a
    whole-number key is matched by :func:`_key_lookup` instead.

    A plain entry on a text column is ``unaccented__icontains`` (``config.lookups``):
    staff type "Pele" or "Sao Paulo" for "Pelé" and "São Paulo", and the names' trigram
    indexes are on the unaccented column. ``=`` and ``^`` entries (ids, key prefixes)
    compare as typed, off their ``UPPER`` indexes. With ``prefix``, a plain entry matches
    the start of the text instead (``istartswith``), for a search of short terms alone
    (:attr:`IndexedSearchAdminMixin.short_terms_match_prefixes`).
    """
    for sign, lookup in (("^", "istartswith"), ("=", "iexact"), ("@", "search")):
        if field.startswith(sign):
            return f"{field.removeprefix(sign)}__{lookup}"
    match = "istartswith" if prefix else "icontains"
    column = _column(model, field)
    if column is not None and column.get_transform(Unaccented.lookup_name) is not None:
        return f"{field}__{Unaccented.lookup_name}__{match}"
    return f"{field}__{match}"


def _key_lookup(model: type[Model], field: str) -> str | None:
    """``path__exact`` for an ``=`` search field on a whole-number key (``=id``,
    ``=account__id``), None for any other field.

    ``iexact`` compares the key as text (``UPPER(account_id::text) = '12'``), which no
    index answers: every profile was read to find one household's. Compared as a number,
    the key's own index (the primary key, the foreign key's) finds the rows.
    """
    if not field.startswith("="):
        return None
    path = field.removeprefix("=")
    return f"{path}__exact" if isinstance(_column(model, path), IntegerField) else None


def _typed_id(term: str) -> int | None:
    """The id a search term names, as the lists write it (``12`` or ``#12``), or None.

    Only a number written as the lists write it: ``012`` matches no key, as a text
    comparison (Django's own search) would not.
    """
    text = term.removeprefix("#")
    number = id_from_text(text)
    return number if number is not None and str(number) == text else None


class IndexedSearchAdminMixin:
    """A search whose every field is matched on its own table, where its index can serve.

    Django ORs the fields' conditions in one ``WHERE`` over the joined tables (a
    title left-joined to its localised names, a profile joined to its household):
    no index answers an ``OR`` spanning two tables, so PostgreSQL reads both whole
    and tests every joined row, whatever trigram index each column has (250 ms a
    statement at 15,000 titles, three statements a page with the date bar). Here
    each field is its own semi-join branch (``pk IN (... UNION ...)``), which the
    field's index (the ``*_search`` trigram and ``UPPER`` indexes, PostgreSQL only)
    reads alone. A term matches as Django's does, on any field; each term of
    several is matched on its own, so two words may match two localised names.
    The result never repeats a row, so the list needs no ``DISTINCT``.
    ``search_fields`` entries are plain paths with Django's prefixes (no explicit
    lookups). An ``=`` on a whole-number key (``=id``, ``=account__id``) matches a term
    that is an id, written as the lists write ids (``12`` or ``#12``), as a number
    (:func:`_key_lookup`). A term may also match on conditions of the admin's own
    (:meth:`get_search_conditions`: a row's label as the list shows it, which is no column).
    A term matches a text field without its accents, in any case (:func:`_search_lookup`).

    A term shorter than a trigram (``la``, ``of``) gives its index nothing to look
    up: the index is read whole, 40 to 60 ms a statement at 15,000 titles. When
    the search has a longer term, a short one is only checked on the rows the
    longer ones found (``EXISTS`` on the row's own key, each field's join read
    for that row alone); it must still match, so the rows are the same. A search of
    short terms alone still reads the index whole, unless the admin sets
    :attr:`short_terms_match_prefixes`.
    """

    #: A search of short terms alone (each under :data:`TRIGRAM` characters: ``la``, ``of
    #: it``) matches the start of each text field (``LIKE 'LA%'``), off a ``text_pattern_ops``
    #: B-tree on its unaccented column, instead of anywhere in it off a trigram index read
    #: whole. Set by lists with such indexes on every text search field and names worth
    #: typing the start of (titles): in a large catalogue a letter or two found inside names
    #: is most of the table, begun with it a page staff can read.
    short_terms_match_prefixes: bool = False

    def get_search_conditions(self, term: str) -> list[tuple[str, object]]:
        """Conditions of the admin's own a term also matches on, beside its ``search_fields``.

        ``(lookup, value)`` pairs, each matched as a field is, on its own (``pk IN``
        branch); whatever they join should be small or found by an index. None here.
        """
        return []

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        search_fields = self.get_search_fields(request)  # type: ignore[attr-defined]
        if not (search_fields and search_term):
            return queryset, False
        model = queryset.model
        terms = [
            unescape_string_literal(bit)
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]
            else bit
            for bit in smart_split(search_term)
        ]
        prefix = self.short_terms_match_prefixes and all(len(term) < TRIGRAM for term in terms)
        fields = [
            (_key_lookup(model, str(field)), _search_lookup(model, str(field), prefix=prefix))
            for field in search_fields
        ]

        def conditions(term: str) -> list[tuple[str, object]]:
            """Each field's condition for ``term``; a key's only for a term that is an id."""
            number = _typed_id(term)
            return [
                *(
                    (key, number) if key else (lookup, term)
                    for key, lookup in fields
                    if not key or number is not None
                ),
                *self.get_search_conditions(term),
            ]

        everything = model._default_manager.order_by()
        indexed = [term for term in terms if len(term) >= TRIGRAM] or terms
        for term in indexed:
            branches = [
                everything.filter(**{lookup: value}).values("pk")
                for lookup, value in conditions(term)
            ]
            if not branches:
                return queryset.none(), False
            first, *others = branches
            queryset = queryset.filter(pk__in=first.union(*others) if others else first)
        for term in terms:
            if term not in indexed:
                matches = conditions(term)
                if not matches:
                    return queryset.none(), False
                anywhere = Q.create(matches, connector=Q.OR)
                queryset = queryset.filter(Exists(everything.filter(anywhere, pk=OuterRef("pk"))))
        return queryset, False
