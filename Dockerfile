# The one image behind web, worker and beat in docker-compose.yml.
# The Debian release is part of the tag: a bare python:3.11-slim moved from bookworm to trixie
# under the same name, and with it every system library the wheels link against.
FROM python:3.11-slim-bookworm

# WEB_CONCURRENCY: gunicorn's worker count (config/gunicorn.py), set here rather than as
# --workers on the command line, which would override whatever a deployer sets.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=1 WEB_CONCURRENCY=4
WORKDIR /app

RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Exactly the pinned runtime dependencies (requirements.lock, `make lock`), nothing resolved at
# build time and no dev tools; `pip check` fails the build if the lock left one out. Before the
# code, so a code change rebuilds from here down only. The project itself is not installed:
# manage.py, gunicorn and Celery run it from /app.
COPY requirements.lock ./
RUN pip install --no-cache-dir --no-deps -r requirements.lock && pip check

COPY config config
COPY accounts accounts
COPY profiles profiles
COPY catalog catalog
COPY regions regions
COPY artwork artwork
COPY recommendations recommendations
COPY console console
COPY templates templates
# The site's own static files (settings.STATICFILES_DIRS): its icon, the API docs' stylesheet.
COPY static static
# Row copy translations: the compiled .mo files are committed, so no gettext in the image.
COPY locale locale
COPY manage.py ./
# collectstatic reads no database, but the settings want one named with debug off.
RUN DEBUG=0 SECRET_KEY=collectstatic-only DATABASE_URL=sqlite://:memory: python manage.py collectstatic --noinput -v0

# The media volume is mounted at /app/var/media: Docker seeds a new named volume with the
# image's directory and its owner, so it must exist here, owned by the app user, or
# artwork uploads and model artefacts fail with PermissionError on a root-owned volume.
RUN useradd --create-home tonight && mkdir -p /app/var/media && chown -R tonight /app/var
USER tonight
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi", "--bind", "0.0.0.0:8000"]
