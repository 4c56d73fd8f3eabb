# The Celery app is loaded with Django, so jobs are registered under their names in every
# process (web nodes send them, workers run them).
from ippsite.celery import app as celery_app

__all__ = ["celery_app"]
