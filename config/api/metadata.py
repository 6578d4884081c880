"""What OPTIONS answers: DRF's metadata, for a profile only once the token reaches it."""

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request

from accounts.selectors import account_for_request
from profiles.selectors import profile_for_request

if TYPE_CHECKING:  # DRF's views module loads this one, from its settings, as it starts
    from rest_framework.views import APIView


class ProfileScopedMetadata(SimpleMetadata):
    """DRF's metadata, after the URL's profile is looked up as the other methods look it up.

    DRF answers OPTIONS from the view class alone, after authentication and
    permissions: every ``/profiles/<id>/...`` endpoint answered 200 for another
    household's profile and for an id that names none, where GET answered 404,
    so OPTIONS told ids apart that the API otherwise keeps indistinguishable.
    Here, in the one place every view's OPTIONS goes through
    (``DEFAULT_METADATA_CLASS``), the profile is taken with
    :func:`~profiles.selectors.profile_for_request` (the token's own read of it:
    no query more) and a profile the token cannot reach is the same 404. A PIN
    lock is not checked: the metadata is the endpoint's, and says nothing of the
    profile.
    """

    def determine_metadata(self, request: Request, view: "APIView") -> dict[str, Any]:
        profile_id = view.kwargs.get("profile_id")
        if profile_id is not None:
            profile_for_request(
                request, account=account_for_request(request), profile_id=profile_id
            )
        return super().determine_metadata(request, view)
