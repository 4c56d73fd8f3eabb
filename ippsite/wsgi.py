"""WSGI entry point (gunicorn ippsite.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ippsite.settings")
application = get_wsgi_application()
