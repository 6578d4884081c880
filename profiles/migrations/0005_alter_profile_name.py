"""A profile's name refuses control characters, and a name of invisible characters alone.

A validator only (``profiles.models.validate_profile_name``), which Django keeps in
the migration state: no SQL runs (``sqlmigrate`` says "no-op"), no lock is taken, and
the rows stored before it are not checked.
"""

from django.db import migrations, models

import profiles.models


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0004_unaccented_search_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="profile",
            name="name",
            field=models.CharField(
                max_length=50, validators=[profiles.models.validate_profile_name]
            ),
        ),
    ]
