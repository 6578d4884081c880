"""A title state without a rating reads "Not rated": admin's column of "None" read as a raw None.

Choices only: no SQL (``sqlmigrate`` prints a no-op).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0018_training_run_queued_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="profiletitlestate",
            name="thumbs",
            field=models.CharField(
                blank=True,
                choices=[("", "Not rated"), ("up", "Thumbs up"), ("down", "Thumbs down")],
                default="",
                max_length=4,
            ),
        ),
    ]
