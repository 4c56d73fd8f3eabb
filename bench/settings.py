"""The site's settings with the benchmark's bare views mounted under /bench/ (never in the
product's URLs): `bench/run` and the gunicorn it starts use these."""

from ippsite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
