"""State changes for accounts and their tokens."""

import functools
import secrets

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from config.admin_history import admin_history_forget
from profiles.models import Profile
from profiles.services import profiles_left_behind_delete

from .models import Account, ApiToken, hash_token_key


def api_token_create(*, account: Account, name: str = "") -> tuple[ApiToken, str]:
    """Create a token for ``account`` and return it with its key.

    The key is returned once and never stored: only its digest is kept.
    """
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        account=account, name=name, key_hash=hash_token_key(key), key_prefix=key[:8]
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    api_tokens_revoke(tokens=ApiToken.objects.filter(pk=token.pk))


def api_tokens_revoke(*, tokens: QuerySet[ApiToken]) -> int:
    """Revoke the tokens not revoked yet, in one statement; returns how many were.

    One ``UPDATE`` whatever the number: revoking every token after a leak is one
    admin action over all of them. An earlier revocation keeps its time.
    """
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def api_tokens_delete(*, tokens: QuerySet[ApiToken]) -> int:
    """Delete the tokens; admin's history keeps what was done to them, not their names.

    A token's name in admin's history is its household's (``str(token)``): a token
    deleted on its own kept it there, and so did its household's deletion later, as
    the token was no longer among the household's to forget. Returns how many went.
    """
    admin_history_forget(objects=tokens.select_related("account"))
    deleted, _ = tokens.delete()
    return deleted


def api_token_rename(*, token: ApiToken, name: str) -> None:
    """Write the token's name, and nothing else of the row.

    The admin reads the token before it saves it; a whole-row save wrote what
    it read back over a revocation committed meanwhile (another staff member's
    "Revoke selected tokens"), and the revoked key worked again. The last-used
    time, written by every process's flush, is not the admin's to write either.
    """
    ApiToken.objects.filter(pk=token.pk).update(name=name)
    token.name = name


@transaction.atomic
def account_delete(*, account: Account) -> None:
    """Delete a household with its profiles, their signals and tokens.

    The account's row, then its profiles' rows in id order, are locked first:
    the order the profile services and a signal batch take them in. A batch
    being stored is waited for and deleted with the rest; deleted first, the
    signals it wrote meanwhile outlived their profile (the log has no foreign
    keys), and its title states refused the deletion's commit. Admin's history keeps
    no name of the household, its profiles or its tokens.
    """
    Account.objects.select_for_update().filter(pk=account.pk).values_list("pk").first()
    profile_ids = list(
        account.profiles.select_for_update().order_by("pk").values_list("pk", flat=True)
    )
    # A page its profiles' homepages logged while this committed (profile_delete's reason).
    transaction.on_commit(functools.partial(profiles_left_behind_delete, profile_ids=profile_ids))
    # Admin's history keeps what was done to them, not their names (config.admin_history).
    admin_history_forget(objects=[account], every_inline_name=True)
    admin_history_forget(
        objects=Profile.objects.filter(pk__in=profile_ids).select_related("account")
    )
    admin_history_forget(objects=account.api_tokens.select_related("account"))
    account.delete()


@transaction.atomic
def account_profiles_cluster_settle(*, account: Account) -> int:
    """Take the account's profiles out of taste clusters of another region than its home one.

    A household's home region is changed on its admin page. Its profiles stayed in
    their former region's clusters until a retrain of the new region placed them, a
    night or more: that cluster's model served them (trained on another region's
    community, without the new region's trending), and their pages were logged with
    its name. Without a cluster, the new region's model serves them, as it serves a
    new profile, until its next retrain assigns them one of its own. The profiles are
    locked in id order first, as a retrain's cluster moves lock them. Returns how many
    profiles left a cluster.
    """
    stale = Profile.objects.filter(account=account, taste_cluster__isnull=False).exclude(
        taste_cluster__region_id=account.home_region_id
    )
    pks = list(stale.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True))
    if not pks:
        return 0
    return Profile.objects.filter(pk__in=pks).update(taste_cluster=None)


@transaction.atomic
def account_create(*, name: str, home_region_id: str, external_id: str = "") -> Account:
    return Account.objects.create(name=name, home_region_id=home_region_id, external_id=external_id)
