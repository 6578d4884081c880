"""The signal kinds gain ``thumbs_cleared`` (a rating removed): choices only, no SQL."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('recommendations', '0013_signal_time_index_autosummarize'),
    ]

    operations = [
        migrations.AlterField(
            model_name='signal',
            name='kind',
            field=models.CharField(choices=[('impression', 'Impression'), ('hover', 'Hover'), ('preview', 'Preview'), ('row_scroll_past', 'Row scrolled past'), ('play_start', 'Play start'), ('search_play', 'Play from search'), ('external_play', 'Play from external link'), ('progress', 'Progress'), ('complete', 'Complete'), ('thumbs_up', 'Thumbs up'), ('thumbs_down', 'Thumbs down'), ('thumbs_cleared', 'Rating removed')], max_length=16),
        ),
    ]
