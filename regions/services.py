"""State changes to regions and their licence windows."""

from catalog.models import Title


def title_windows_lock(*, title_id: int) -> None:
    """Hold the title's row until the transaction ends, before one of its windows changes.

    The catalogue import gives a title an open window only where it has none, and
    locks the titles it is about to give one
    (``recommendations.services.dataset_import.catalogue._open_windows_ensure``): a window staff
    save meanwhile is then either read by the import or saved after it commits, never
    missed by its read and joined by an open window that makes the title live now.
    ``FOR NO KEY UPDATE``, as an update of the title takes, so that ingest's inserts
    naming the title do not wait. Call it inside the transaction that saves the window.
    """
    list(Title.objects.filter(pk=title_id).select_for_update(no_key=True).values_list("pk"))
