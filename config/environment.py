"""How ``config/settings.py`` reads the environment: a value that does not read stops the
start with an error naming the variable, the value and what was wanted.

django-environ lets a cast's own error through (``invalid literal for int() with base 10:
'abc'``), which names neither the variable nor what it wanted: an operator with forty
variables set could not tell which one to correct. And it read any word it did not know as
a false boolean: ``DEBUG=maybe`` was debug off, an empty ``SESSION_COOKIE_SECURE`` insecure
cookies, silently. Its numbers dropped every character but digits, commas, dots and minus
signs: ``1e3`` read as 13, ``10m`` as 10.
"""

import importlib.util
import ipaddress
import json
import logging
import math
import re
import warnings
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def throttle_rate(value: str) -> str:
    """A DRF throttle rate such as ``5/min``, checked where it is read.

    DRF parses a rate on the first request it limits, and reads the period by its
    first letter only: ``five/min`` was a 500 at the first wrong PIN, ``20/fortnight``
    twenty a day. The periods here are the ones its letters stand for.
    """
    count, slash, period = value.strip().partition("/")
    # A word's plural ("mins", "days"), not a letter's: DRF would read "ms" as "m".
    known = period in _PERIODS or (
        len(period) > 2 and period.endswith("s") and period[:-1] in _PERIODS
    )
    if not (slash and count.isdigit() and int(count) > 0 and known):
        raise ValueError(f"{value!r} is not a rate")
    return f"{int(count)}/{period}"


#: What a cast wanted, in the words of the error an operator reads.
EXPECTED = {
    int: "a whole number",
    float: "a number",
    bool: "a boolean (1 or 0, true or false, yes or no, on or off)",
    json.loads: "JSON",
    throttle_rate: "a rate: a whole number above 0, then /s, /min, /hour or /day (5/min)",
}


def invalid(name: str, value: object, expected: str, default: Any = None) -> ImproperlyConfigured:
    """The error for ``name=value`` not being ``expected``: what is wrong, then what to do,
    as settings.py says a missing ``SECRET_KEY``. Raise it where the value was read."""
    fix = "Correct it in the environment"
    if isinstance(default, bool):
        fix += f", or unset it for the default ({int(default)})"
    elif isinstance(default, int | float | str) and default != "":
        fix += f", or unset it for the default ({default})"
    return ImproperlyConfigured(f"{name}={value!r} is not {expected}. {fix}.")


#: The file beside manage.py whose variables count as the environment's, those set winning.
DOTENV = Path(__file__).resolve().parent.parent / ".env"


def read_dotenv() -> None:
    """Put ``.env``'s variables in the environment, each one already set left as it is.

    The one way every process reads it: the settings, and the Celery app before them (its
    command line reads variables before the settings load).
    """
    Env.read_env(DOTENV, overwrite=False)


class Env(environ.Env):
    """django-environ's reader, whose reads name their variable when its value does not read.

    Every typed read (``int``, ``float``, ``bool``, ``json``, ``list``...) goes through
    ``get_value``, the one place that knows the variable's name as well as the value.
    """

    #: The words read as false; django-environ read every word not in its
    #: ``BOOLEAN_TRUE_STRINGS`` so. Those two lists and the whole numbers are what reads.
    BOOLEAN_FALSE_STRINGS = ("false", "off", "no", "n")

    def get_value(
        self,
        var: str,
        cast: Any = None,
        default: Any = environ.Env.NOTSET,
        parse_default: bool = False,
    ) -> Any:
        name = f"{self.prefix}{var}"
        raw = self.ENVIRON.get(name)
        try:
            if isinstance(raw, str) and raw.startswith("$"):
                # django-environ reads "$NAME" as the value of NAME. Nothing here is
                # configured so, and a secret may begin with "$" (one of Django's generated
                # keys in 50 does): it failed the start with "Set the <the rest of the key>
                # environment variable", the secret in the error. A value reads as written.
                return raw if cast is None else self.parse_value(raw, cast)
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ValueError as exc:  # json.JSONDecodeError is one too
            value = self.ENVIRON.get(name, default)
            expected = EXPECTED.get(cast, f"what it should be ({exc})")
            if default is self.NOTSET:
                default = None
            raise invalid(name, value, expected, default) from exc

    @classmethod
    def parse_value(cls, value: Any, cast: Any) -> Any:
        """Booleans and numbers only as they are written; anything else is a ValueError,
        which get_value turns into the error naming the variable."""
        if cast is bool and isinstance(value, str):
            try:
                return int(value) != 0  # django-environ's first reading: 1, 0, 2...
            except ValueError:
                word = value.strip().lower()
            if word in cls.BOOLEAN_TRUE_STRINGS or word in cls.BOOLEAN_FALSE_STRINGS:
                return word in cls.BOOLEAN_TRUE_STRINGS
            raise ValueError(f"{value!r} is not a boolean")
        if cast is float and isinstance(value, str):
            number = float(value)  # as Python writes numbers: 0.5, 1e3, 3600
            if not math.isfinite(number):
                raise ValueError(f"{value!r} is not a finite number")
            return number
        return super().parse_value(value, cast)

    def db_url(
        self,
        var: str = environ.Env.DEFAULT_DATABASE_ENV,
        default: Any = environ.Env.NOTSET,
        engine: str | None = None,
    ) -> dict:
        """The database settings of a URL, refusing one that names no database (its settings
        had no ENGINE: a bare KeyError further on). The URL holds the password, so the error
        does not show it."""
        try:
            with warnings.catch_warnings():
                # Its warning shows the settings read, password and all; the error says it.
                warnings.filterwarnings("ignore", "Engine not recognized", UserWarning)
                config = super().db_url(var, default=default, engine=engine)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{var} is not a database URL ({exc}). Correct it in the environment: "
                "postgres://user:password@host:5432/name, for instance."
            ) from exc
        engine = config.get("ENGINE")
        if not engine:
            raise ImproperlyConfigured(
                f"{var} does not name a database. Correct it in the environment: "
                "postgres://user:password@host:5432/name, for instance."
            )
        if not _backend_exists(engine):
            # django-environ takes a scheme it does not know (a typo: postgress://) for a
            # backend's module, and Django's error when it fails to import it names no
            # variable. The scheme holds no secret; the rest of the URL may.
            raise ImproperlyConfigured(
                f"{var} does not name a database: {engine!r} is no database scheme. Correct "
                "it in the environment: postgres://user:password@host:5432/name, for instance."
            )
        return config

    db = db_url


def _backend_exists(engine: str) -> bool:
    """Whether Django could import the database backend ``engine`` (its ``base`` module), as
    it will when it first connects; a known backend whose driver is missing still passes,
    since Django's own error names the driver to install."""
    try:
        return importlib.util.find_spec(f"{engine}.base") is not None
    except (ImportError, ValueError):
        return False


#: What LOG_LEVEL sets when unset.
DEFAULT_LOG_LEVEL = "INFO"


def log_level(env: Env) -> str:
    """``LOG_LEVEL`` as logging names the level, in either case (``debug``, ``Warning``).

    One reading for every process's levels: the app's log (settings), gunicorn's own lines
    (``config/gunicorn.py``) and a Celery worker's or beat's (``config/celery.py``), so one
    variable sets them all. Logging knows only the upper-case names, and refused anything
    else at start ("Unable to configure root logger") without naming the variable. The
    name is the canonical one (``WARN`` reads as ``WARNING``), which Celery's command line
    takes too.
    """
    value = env.str("LOG_LEVEL", default=DEFAULT_LOG_LEVEL)
    number = logging.getLevelNamesMapping().get(value.strip().upper(), logging.NOTSET)
    if number == logging.NOTSET:
        raise invalid(
            "LOG_LEVEL",
            value,
            "a log level (DEBUG, INFO, WARNING, ERROR or CRITICAL)",
            default=DEFAULT_LOG_LEVEL,
        )
    return logging.getLevelName(number)


#: An origin as a browser writes it in ``Origin``: a scheme, ``://``, a host in lower case (a
#: name, an IPv4 address or a bracketed IPv6 one) and a port, and nothing after.
_ORIGIN = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://"
    r"(?P<host>[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[(?P<ipv6>[0-9a-f:.]+)\])"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?"
)
#: The ports a browser leaves out of an origin, by scheme.
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _address_as_written(host: str, *, ipv6: str | None) -> bool:
    """Whether an origin's host, if an address, is in the one form a browser writes it.

    A browser reads a host whose last label is a number as an IPv4 address and writes it
    back in full (``127.000.0.1`` and ``10.1`` as ``127.0.0.1`` and ``10.0.0.1``), and an
    IPv6 address compressed (``[0:0::1]`` as ``[::1]``): written otherwise it never matched.
    """
    try:
        if ipv6 is not None:
            return ipaddress.IPv6Address(ipv6).compressed == ipv6
        if host.rsplit(".", 1)[-1].isdigit():
            return str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        return False
    return True


def cors_allowed_origins(env: Env) -> list[str]:
    """``CORS_ALLOWED_ORIGINS``: the origins whose pages may call the versioned API, each
    exactly as a browser sends it in ``Origin``, since it is compared as written.

    django-cors-headers compares an origin's scheme and host with the browser's as strings:
    ``https://Watch.example.com`` or ``https://watch.example.com:443`` never matches what a
    browser sends, and ``https://watch.example.com/app`` is silently the whole host. Its own
    system check says so, but only under ``manage.py check``, which gunicorn does not run: the
    web app's every call was blocked with nothing in the server's log. Blanks around an entry
    and empty entries are dropped, as ``ALLOWED_HOSTS``'s are.
    """
    entries = [entry.strip() for entry in env.list("CORS_ALLOWED_ORIGINS", default=[])]
    origins = [entry for entry in entries if entry]
    for origin in origins:
        match = _ORIGIN.fullmatch(origin)
        port = match and match["port"]
        if (
            match is None
            or (port is not None and not 0 < int(port) < 65536)
            or (port is not None and _DEFAULT_PORTS.get(match["scheme"]) == int(port))
            or not _address_as_written(match["host"], ipv6=match["ipv6"])
        ):
            raise ImproperlyConfigured(
                f"CORS_ALLOWED_ORIGINS holds {origin!r}, which is not an origin as a browser "
                "sends it: scheme://host[:port] in lower case, without a path (not even a "
                "trailing /), without the scheme's default port, and an address in its "
                "shortest form (https://watch.example.com, http://localhost:3000, "
                "http://[::1]:8080). Correct it in the environment, or unset it for no "
                "cross-origin access."
            )
    return origins


#: Django's own storage: the default of both aliases, ``MEDIA_ROOT`` as its location.
FILE_SYSTEM_STORAGE = "django.core.files.storage.FileSystemStorage"

#: The storage aliases the environment configures, with the prefix of their variables:
#: ``default`` holds artwork images (public: served at ``MEDIA_URL``), ``artefacts`` the
#: model versions' and artwork policies' ``.npz`` files (private: nothing serves them).
STORAGE_ALIASES = {"default": "STORAGE_DEFAULT", "artefacts": "STORAGE_ARTEFACTS"}


def storages(env: Env) -> dict[str, dict[str, Any]]:
    """``STORAGES``' ``default`` and ``artefacts`` aliases from ``STORAGE_<ALIAS>_BACKEND``
    and ``STORAGE_<ALIAS>_OPTIONS`` (a JSON object), checked where they are read.

    Unset, both are Django's file system storage at ``MEDIA_ROOT`` with no options, as the
    one storage was before the two were told apart: artefact keys (``models/42``) resolve
    to the same files. Django imports a backend only when it is first used, and a
    misspelt one (or django-storages not installed) failed a retrain after its fit, or the
    first homepage, with an ImportError naming no variable; options that are not an
    object failed in the backend's constructor the same way. The backend's module is
    looked up without importing it (an importer may read settings not loaded yet).

    The artefacts must not be where the artwork is served from: one non-filesystem
    backend with the same options for both would put the models in the public bucket.
    """
    configured: dict[str, dict[str, Any]] = {}
    for alias, prefix in STORAGE_ALIASES.items():
        name = f"{prefix}_BACKEND"
        # Blank is unset, as compose passes a variable the deployer left out (${NAME:-}).
        backend = env.str(name, default="").strip() or FILE_SYSTEM_STORAGE
        module, _, attribute = backend.rpartition(".")
        if not (module and attribute.isidentifier() and _module_exists(module)):
            raise invalid(
                name,
                backend,
                "the dotted path of an installed storage class (for an S3 bucket, "
                "storages.backends.s3.S3Storage, after pip install 'django-storages[s3]')",
                default=FILE_SYSTEM_STORAGE,
            )
        name = f"{prefix}_OPTIONS"
        written = env.str(name, default="").strip() or "{}"
        try:
            options = json.loads(written)
        except ValueError:
            options = None
        if not isinstance(options, dict):
            # Not shown: the options may hold a key (access_key, secret_key).
            raise ImproperlyConfigured(
                f"{name} is not a JSON object of the storage backend's options "
                '({"bucket_name": "tonight-models"}, for instance). Correct it in the '
                "environment, or unset it for none."
            )
        configured[alias] = {"BACKEND": backend, **({"OPTIONS": options} if options else {})}
    default, artefacts = configured["default"], configured["artefacts"]
    if default == artefacts and default["BACKEND"] != FILE_SYSTEM_STORAGE:
        raise ImproperlyConfigured(
            "STORAGE_ARTEFACTS_BACKEND and STORAGE_ARTEFACTS_OPTIONS name the same storage "
            "as STORAGE_DEFAULT_BACKEND and STORAGE_DEFAULT_OPTIONS, whose artwork is public: "
            "the model files would be downloadable with it. Give the artefacts a private "
            "bucket of their own in the environment."
        )
    return configured


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
