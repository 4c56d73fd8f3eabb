"""The Celery application of IPP Site (SPEC §9 "More than one machine").

`celery -A ippsite worker` runs the jobs of ippsite/jobs.py against IPP_BROKER_URL; with
IPP_BROKER_URL unset (the embedded default) no worker is needed: jobs run in-process
(`task_always_eager`), so `bin/serve` stays one command. Settings are the CELERY_* names
of ippsite/settings.py.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ippsite.settings")

app = Celery("ippsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(lambda: ["ippsite"], related_name="jobs")
