"""Error reports (the DEBUG page, a mail to ADMINS) never carry a PIN or an unlock token."""

import sys

import pytest
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.views.debug import ExceptionReporter, get_exception_reporter_filter

from profiles.services import profile_update
from profiles.unlock import PinFailureThrottle, WrongPin, profile_unlock
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

HIDDEN = "********************"


def frame_variables(function: str) -> dict[str, str]:
    """The variables the report lists for ``function``'s frame of the exception being handled."""
    frames = ExceptionReporter(None, *sys.exc_info()).get_traceback_frames()
    (frame,) = [f for f in frames if f["function"] == function]
    return dict(frame["vars"])


def test_a_report_hides_the_unlock_header():
    request = RequestFactory().get("/", HTTP_X_PROFILE_UNLOCK="1:signature", HTTP_ACCEPT="*/*")
    meta = get_exception_reporter_filter(request).get_safe_request_meta(request)
    assert meta["HTTP_X_PROFILE_UNLOCK"] == HIDDEN
    assert meta["HTTP_ACCEPT"] == "*/*"


def test_a_report_of_a_wrong_pin_hides_the_pin_tried(account):
    profile = ProfileFactory(account=account)
    profile.set_pin("4321")
    profile.save()
    keys = PinFailureThrottle(profile).keys()
    caches["default"].delete_many(keys)
    try:
        profile_unlock(profile=profile, pin="9876")
    except WrongPin:
        shown = frame_variables("profile_unlock")
    finally:
        caches["default"].delete_many(keys)
    assert shown["pin"] == HIDDEN
    assert shown["profile"] != HIDDEN


def test_a_report_of_a_failed_profile_change_hides_the_new_pin(account):
    profile = ProfileFactory(account=account)
    try:
        profile_update(profile=profile, pin="5813", maturity_limit=-3)
    except ValidationError:
        shown = frame_variables("profile_update")
    assert shown["pin"] == HIDDEN
    assert shown["maturity_limit"] == -3


def test_the_admin_hides_the_new_pin_from_reports_of_its_request(admin_client, account):
    profile = ProfileFactory(account=account)
    response = admin_client.post(f"/admin/profiles/profile/{profile.pk}/change/", {"pin": "2468"})
    assert response.wsgi_request.sensitive_post_parameters == ("pin",)


def test_a_report_hides_a_pin_sent_as_a_form_body():
    # the API parses form bodies too; DRF's request cannot be marked sensitive_post_parameters
    request = RequestFactory().post("/api/v1/profiles/1/unlock/", {"pin": "9876", "name": "Ann"})
    shown = get_exception_reporter_filter(request).get_post_parameters(request)
    assert shown["pin"] == HIDDEN
    assert shown["name"] == "Ann"
