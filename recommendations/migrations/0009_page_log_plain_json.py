"""Page log JSON columns as plain ``json`` instead of ``jsonb`` (see ``PlainJSONField``).

On PostgreSQL the type change rewrites the table (``USING column::json``) and
loses the columns' compression method, so 0008's lz4 is applied again. The
rewrite holds an exclusive lock for as long as it takes: on a large page log,
run it in a maintenance window.
"""

import importlib

from django.db import migrations

import config.fields

lz4 = importlib.import_module("recommendations.migrations.0008_page_log_lz4")


class Migration(migrations.Migration):

    dependencies = [
        ('recommendations', '0008_page_log_lz4'),
    ]

    operations = [
        migrations.AlterField(
            model_name='pagelog',
            name='items',
            field=config.fields.PlainJSONField(default=list),
        ),
        migrations.AlterField(
            model_name='pagelog',
            name='rows',
            field=config.fields.PlainJSONField(default=list),
        ),
        migrations.AlterField(
            model_name='pagelog',
            name='taste',
            field=config.fields.PlainJSONField(blank=True, default=dict, help_text="The profile's genre taste the artwork policy saw, {genre slug: share}: a bandit learns from the context it decided on, not one recomputed later."),
        ),
        # The type change dropped the compression method; the reverse needs nothing
        # (going back to jsonb, 0008's reverse sets pglz anyway).
        migrations.RunPython(lz4.forward, migrations.RunPython.noop, elidable=False),
    ]
