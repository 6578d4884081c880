"""A household whose two adults have opposite tastes, on a small trained catalogue with artwork.

Built from :func:`tests.recommendations.homepage_world.build_home_world` (four
genres of eight films, with fans in other households), plus: every title has
two artwork variants stored as real JPEG files, and one household ("The
Testers") with an action fan, a romance fan and a kids profile, each with their
own history, so their homepages differ for reasons the models can find.
"""

import io
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from catalog.models import MaturityLevel
from recommendations.services.training import model_train
from tests.factories import (
    AccountFactory,
    ArtworkThemeFactory,
    ArtworkVariantFactory,
    ProfileFactory,
)
from tests.recommendations.homepage_world import HomeWorld, build_home_world
from tests.recommendations.test_training import record, watch

GENRE_COLOURS = {
    "action": (200, 60, 30),
    "romance": (200, 60, 140),
    "comedy": (230, 190, 40),
    "drama": (40, 90, 170),
}


def artwork_image(name: str, colour: tuple[int, int, int], *, close_up: bool) -> SimpleUploadedFile:
    """A 320x180 JPEG: the genre's colour, a frame shape per variant, the title's name."""
    image = Image.new("RGB", (320, 180), colour)
    draw = ImageDraw.Draw(image)
    if close_up:
        draw.ellipse((110, 20, 210, 140), fill=(240, 210, 180))
    else:
        draw.rectangle((20, 90, 300, 160), fill=tuple(c // 2 for c in colour))
    draw.text((12, 12), name, fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return SimpleUploadedFile(f"{name}.jpg", buffer.getvalue(), content_type="image/jpeg")


@dataclass
class ConsoleWorld:
    home: HomeWorld
    account: object
    action_fan: object
    romance_fan: object
    kid: object
    resumed: object  # the title the action fan is half-way through


def build_console_world() -> ConsoleWorld:
    home = build_home_world()
    lead_face = ArtworkThemeFactory(slug="lead-face")
    for genre, films in home.titles.items():
        theme = ArtworkThemeFactory(slug="romance" if genre == "romance" else "action")
        for title in films:
            for close_up in (False, True):
                variant = ArtworkVariantFactory(
                    title=title,
                    label="close-up" if close_up else "wide shot",
                    image=artwork_image(
                        title.original_name, GENRE_COLOURS[genre], close_up=close_up
                    ),
                )
                variant.themes.add(lead_face if close_up else theme)

    account = AccountFactory(home_region=home.region, name="The Testers")
    action_fan = ProfileFactory(account=account, name="Asha")
    romance_fan = ProfileFactory(account=account, name="Ravi")
    kid = ProfileFactory(
        account=account, name="Kids", is_kids=True, maturity_limit=MaturityLevel.SEVEN
    )
    for i, title in enumerate(home.titles["action"][:4]):
        watch(action_fan, title, days_ago=1 + i)
    for i, title in enumerate(home.titles["romance"][:4]):
        watch(romance_fan, title, days_ago=1 + i)
    for i, title in enumerate(home.titles["comedy"][:3]):
        watch(kid, title, days_ago=1 + i)
    resumed = home.titles["action"][5]
    record(action_fan, "play_start", resumed, days_ago=0.5)
    record(action_fan, "progress", resumed, days_ago=0.4, value=40.0)
    model_train(region_code=home.region.code)
    return ConsoleWorld(home, account, action_fan, romance_fan, kid, resumed)
