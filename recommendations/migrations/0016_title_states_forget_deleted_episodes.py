"""Drop from the title states' finished episodes the ids of episodes deleted before now.

From now on an episode's deletion prunes its id (``receivers.title_states_episode_forget``);
the states of episodes deleted before kept theirs, and "fewer finished than out" undercounted
what is left of those series. No judgment is needed (a deleted id names nothing), so unlike
``title_states_refold`` this is a migration. One pass over the states with a finished
episode; only those holding a deleted id are written.
"""

from typing import Any

from django.db import migrations

_PRUNE = """
    UPDATE {states} s SET completed_episodes = COALESCE((
        SELECT jsonb_agg(x.f ORDER BY x.n)
          FROM jsonb_array_elements(s.completed_episodes) WITH ORDINALITY AS x(f, n)
         WHERE EXISTS (SELECT 1 FROM {episodes} e WHERE e.id = (x.f)::bigint)
    ), '[]'::jsonb)
     WHERE s.completed_episodes <> '[]'::jsonb
       AND EXISTS (
        SELECT 1 FROM jsonb_array_elements(s.completed_episodes) AS d(f)
         WHERE NOT EXISTS (SELECT 1 FROM {episodes} e WHERE e.id = (d.f)::bigint))
"""


def forward(apps: Any, schema_editor: Any) -> None:
    states = apps.get_model("recommendations", "ProfileTitleState")
    episodes = apps.get_model("catalog", "Episode")
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                _PRUNE.format(
                    states=quote(states._meta.db_table), episodes=quote(episodes._meta.db_table)
                )
            )
        return
    existing = set(episodes.objects.values_list("pk", flat=True))
    stale = [
        state
        for state in states.objects.exclude(completed_episodes=[]).only("completed_episodes")
        if any(e not in existing for e in state.completed_episodes)
    ]
    for state in stale:
        state.completed_episodes = [e for e in state.completed_episodes if e in existing]
    states.objects.bulk_update(stale, ["completed_episodes"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0015_abandoned_task"),
        ("catalog", "0004_genre_slug_keeps_marks"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=True)]
