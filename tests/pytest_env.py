"""Loaded with -p before Django starts: test-only environment for the one settings module.

Plain HTTP (the test client and live server do not speak TLS), a throwaway data dir and
generated keys.
"""

import os
import tempfile

os.environ.setdefault("IPP_SSL_REDIRECT", "0")
os.environ.setdefault("IPP_SECURE_COOKIES", "0")
os.environ.setdefault("IPP_DATA_DIR", tempfile.mkdtemp(prefix="ipp-test-"))
# Each test generates its own keys, also when CI runs the suite with DATABASE_URL set.
os.environ.setdefault("IPP_ALLOW_GENERATED_KEYS", "1")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API + live_server
