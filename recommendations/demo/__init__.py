"""The demo world behind ``manage.py seed_demo``: catalogue, artwork, households, history.

Later commands (``simulate_traffic``) import the planted tastes from here::

    from recommendations.demo import load_hidden_tastes, load_title_popularity, play_logit
    tastes = load_hidden_tastes()  # {profile id: HiddenTaste}
    popularity = load_title_popularity()  # {title id: log-popularity}, for play_logit
"""

from .tastes import (
    HiddenTaste,
    hidden_tastes_path,
    hour_bucket,
    load_hidden_tastes,
    load_title_popularity,
    play_logit,
    rederive_hidden_tastes,
)

__all__ = [
    "HiddenTaste",
    "hidden_tastes_path",
    "hour_bucket",
    "load_hidden_tastes",
    "load_title_popularity",
    "play_logit",
    "rederive_hidden_tastes",
]
