"""The training runs' task id index, on PostgreSQL (``config.search_indexes``).

The runs' admin search matches each field on its own (``IndexedSearchAdminMixin``),
the others off the runs' keys' indexes; an exact task id (``=celery_task_id``, found
in a worker's log) read every run without one.
"""

from django.db import migrations

from config.search_indexes import AddPostgresSearchIndex, upper_index


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0016_title_states_forget_deleted_episodes"),
        ("catalog", "0005_search_indexes"),
    ]

    operations = [
        AddPostgresSearchIndex(
            "trainingrun", upper_index("celery_task_id", "run_celery_task_search")
        ),
    ]
