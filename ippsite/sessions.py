"""The site's session engine (SESSION_ENGINE): Django's database sessions plus a user id.

Django's own session table keeps the signed-in user only inside the encoded session data,
so finding one user's sessions meant decoding every live session of the site. This is
Django's documented "Extending database-backed session engines" pattern: a session model
with an indexed user id column, filled each time the store saves, so ending a user's
sessions (support_ui.accounts.sessions_end) is one DELETE on that column.

The model lives here, next to its store, as in Django's example; `ippsite.models` imports
it so the app registers it. The store keeps the class name `SessionStore`: it is part of
the salt that signs session data, so the rows carried over from django_session (migration
0006) still decode.
"""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


def session_user_id(data: dict) -> int | None:
    """The signed-in user's pk from decoded session data, or None for an anonymous session.

    login() stores the pk as a string (`value_to_string`); anything that is not an integer
    is not one of this site's users.
    """
    try:
        return int(data.get(SESSION_KEY))
    except (TypeError, ValueError):
        return None


class Session(AbstractBaseSession):
    """A database session with the id of the user it is signed in as (None: anonymous).

    `user_id` is a plain indexed integer, not a foreign key: a session saved at the end of
    a request while its user is being deleted must not fail on a constraint (the store's
    create() retries any IntegrityError as a key clash, forever), and a stale id is
    harmless, since Django's auth finds no such user and clearsessions removes the row
    when it expires.
    """

    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta(AbstractBaseSession.Meta):
        ordering = ["expire_date"]

    @classmethod
    def get_session_store_class(cls):
        return SessionStore


class SessionStore(DatabaseSessionStore):
    """Django's database session store writing `Session` rows with their user id."""

    @classmethod
    def get_model_class(cls):
        return Session

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        session.user_id = session_user_id(data)
        return session
