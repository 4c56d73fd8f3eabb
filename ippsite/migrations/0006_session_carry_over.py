# Data: the live sessions of django.contrib.sessions' table move into ippsite's, each
# decoded once for its user id, so the upgrade signs nobody out. Expired ones are dropped.
#
# The old table is emptied, not left behind: nothing clears it any more (clearsessions
# clears the engine's model), and a copy left there would come back to life on a downgrade
# after its user had signed out or been deactivated. Backwards, the live sessions move back.

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import migrations
from django.utils import timezone

CHUNK = 500


def _user_id(data: dict):
    """As ippsite.sessions.session_user_id, frozen here: login() stores the pk as a string."""
    try:
        return int(data.get(SESSION_KEY))
    except (TypeError, ValueError):
        return None


def _move_live(source, target, *, with_user_id: bool) -> None:
    """Copy `source`'s unexpired rows into `target`, in chunks, then empty `source`."""
    # Django's database store signs with the same salt as ours (the class name, SessionStore).
    store = SessionStore()
    live = source.objects.filter(expire_date__gt=timezone.now()).order_by()
    batch = []
    for row in live.iterator(chunk_size=CHUNK):
        copy = target(
            session_key=row.session_key,
            session_data=row.session_data,
            expire_date=row.expire_date,
        )
        if with_user_id:
            copy.user_id = _user_id(store.decode(row.session_data))
        batch.append(copy)
        if len(batch) == CHUNK:
            target.objects.bulk_create(batch)
            batch = []
    target.objects.bulk_create(batch)
    source.objects.all().delete()


def forwards(apps, schema_editor):
    _move_live(
        apps.get_model("sessions", "Session"),
        apps.get_model("ippsite", "Session"),
        with_user_id=True,
    )


def backwards(apps, schema_editor):
    old = apps.get_model("sessions", "Session")
    old.objects.all().delete()  # anything written there since is stale: ours is the record
    _move_live(apps.get_model("ippsite", "Session"), old, with_user_id=False)


class Migration(migrations.Migration):

    dependencies = [
        ("ippsite", "0005_session"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
