"""The count behind "lock again" (``DELETE /profiles/{id}/unlock/``).

A constant default is stored in the catalog (PostgreSQL 11+): adding the column
rewrites nothing and holds the profiles table's lock for a moment only. An
integer without a CHECK (not a PositiveIntegerField), so no pass over the rows
validates one. The default stays in the database for the release still
serving while this runs, whose inserts do not name the column.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('profiles', '0002_search_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='profile',
            name='unlock_generation',
            field=models.IntegerField(db_default=0, default=0, editable=False, help_text='Counts the times the profile was locked again: an unlock token names the count it was issued under, so raising it ends every outstanding one (profiles.unlock).'),
        ),
    ]
