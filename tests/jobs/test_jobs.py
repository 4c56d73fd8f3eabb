"""Jobs (ippsite/jobs.py): in-process without a broker, by a real worker with Redis.

Without IPP_BROKER_URL a job asked for by a service runs in-process, synchronously, once
the transaction commits: an approval stores the re-marked packages and only then tells
the requester. With a broker, a real `celery worker` subprocess takes the job.
"""

import io
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.core.management import CommandError, call_command

from ippsite.celery import app
from ippsite.jobs import build_packages
from portal.models import TransferItem, TransferRequest
from portal.services import transfer_approve, transfer_package, transfer_request
from portal.services.packages import package_blob_name
from publishing.services import module_publish
from registry.blobs import get_store
from registry.crypto import MasterKeyring
from registry.models import Module
from registry.selectors import open_version_source
from tests import factories
from tests.services import redis_up, unused_port

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/6"


def _download(issued) -> bytes:
    with issued.file as fh:
        return fh.read()


@pytest.fixture
def core_version(world, publish):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="CustomerCore")
    return publish(world.developer, world.acme_dev_env, manifest).version


@pytest.fixture
def pending(world, core_version):
    return transfer_request(
        user=world.developer,
        modules=[core_version.module_id],
        target_activation_code=world.emca.activation_code,
    )


def test_in_process_an_approval_stores_the_packages_once_then_tells_the_requester(
    world, pending, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transfer_approve(user=world.acme_admin, transfer=pending)
    item = TransferItem.objects.get(request=pending)
    # Built synchronously, in this process, when the approval committed.
    assert item.package_size is not None
    assert get_store().exists(package_blob_name(item))
    assert TransferRequest.objects.get(pk=pending.pk).packages_ready_at is not None
    assert sorted(m.to[0] for m in mailoutbox) == [
        "developer@example.test",
        "emca_admin@example.test",
    ]

    first = _download(transfer_package(user=world.developer, transfer=pending, module=item.module))
    second = _download(transfer_package(user=world.developer, transfer=pending, module=item.module))
    # Sealing draws a fresh salt each time: equal bytes mean both streamed the stored package.
    assert first == second
    assert len(first) == item.package_size

    # Running the job again (a redelivery) stores nothing twice and mails nobody again.
    assert build_packages.apply((pending.pk,)).get() is False
    assert len(mailoutbox) == 2


def test_with_the_broker_down_the_download_answers_package_preparing(
    world, pending, settings, client, django_capture_on_commit_callbacks, mailoutbox
):
    # A broker nobody listens on: the build job cannot be queued, so nothing is built.
    settings.IPP_BROKER_URL = f"redis://127.0.0.1:{unused_port()}/5"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.broker_url = settings.IPP_BROKER_URL
    try:
        with django_capture_on_commit_callbacks(execute=True):
            transfer_approve(user=world.acme_admin, transfer=pending)
        item = TransferItem.objects.get(request=pending)
        assert item.package_size is None
        assert mailoutbox == []  # nobody is told before the packages exist
        client.force_login(world.developer)
        reply = client.get(f"/api/v1/transfers/{pending.pk}/packages/{item.module_id}")
        assert reply.status_code == 409
        assert reply.json()["error"] == "package_preparing"
        page = client.get(f"/portal/{pending.pk}/").content.decode()
        assert 'data-testid="package-preparing"' in page
    finally:
        app.conf.broker_url = "memory://"


def test_an_approval_of_500_modules_is_a_bounded_number_of_queries(
    world, django_assert_max_num_queries
):
    source = world.acme
    factories.make_member(source, world.outsider, create_modules=True)
    version = _a_version(world)
    modules = [Module(infrastructure=source, key=uuid.uuid4(), name=f"M{n}") for n in range(500)]
    Module.objects.bulk_create(modules)
    versions = [_copy_of(version, module) for module in modules]
    type(version).objects.bulk_create(versions)
    transfer = TransferRequest.objects.create(
        source=source,
        destination=world.emca,
        destination_code=world.emca.activation_code,
        requester=world.developer,
    )
    TransferItem.objects.bulk_create(
        TransferItem(request=transfer, module=m, version=v, epoch=2)
        for m, v in zip(modules, versions, strict=True)
    )
    with django_assert_max_num_queries(25):
        transfer_approve(user=world.acme_admin, transfer=transfer)
    assert TransferItem.objects.filter(request=transfer, new_mark__isnull=True).count() == 0


def _a_version(world):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="Base", exposes=[])
    return module_publish(
        user=world.developer,
        environment=world.acme_dev_env,
        upload=factories.package_file(manifest),
    ).version


def _copy_of(version, module):
    return type(version)(
        module=module,
        number=1,
        digest=uuid.uuid4().hex + uuid.uuid4().hex,
        name=module.name,
        wrapped_key=version.wrapped_key,
        master_key_id=version.master_key_id,
        mark=None,
    )


# --- a real worker over Redis ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_a_real_worker_runs_a_job_sent_through_redis(tmp_path):
    data = tmp_path / "worker"
    spool = data / "tmp"
    spool.mkdir(parents=True, mode=0o700)
    leftover = spool / "left-by-a-killed-upload"
    leftover.write_bytes(b"x")
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "IPP_DATA_DIR": str(data),
        "IPP_BROKER_URL": REDIS_URL,
        "IPP_ALLOW_GENERATED_KEYS": "1",
    }
    env.pop("DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ippsite", "worker", "--pool", "solo",
         "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        sender = Celery(broker=REDIS_URL)
        sender.send_task("ippsite.sweep_uploads", queue=queue)
        for _ in range(300):
            if not leftover.exists() or worker.poll() is not None:
                break
            time.sleep(0.1)
        assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
        assert not leftover.exists(), "the worker did not run the job within 30 s"
    finally:
        os.killpg(worker.pid, 9)
        worker.wait(10)
        shutil.rmtree(data, ignore_errors=True)


# --- master key rotation as a chain of batch jobs ----------------------------------------


@pytest.mark.django_db
def test_rotation_through_the_queue_rewraps_every_version_in_process(world, publish, monkeypatch):
    monkeypatch.delenv("IPP_MASTER_KEYS", raising=False)
    versions = [
        publish(world.developer, world.acme_dev_env, factories.manifest(name=f"Rot{n}")).version
        for n in range(3)
    ]
    before = MasterKeyring.load().current_id
    out = io.StringIO()
    call_command("rotate_master_key", "--queue", "--batch", "1", stdout=out)
    after = MasterKeyring.load().current_id
    assert after != before
    assert "queued" in out.getvalue()
    # No broker: the chain of one-version batches ran here, synchronously, to the end.
    for version in versions:
        version.refresh_from_db()
        assert version.master_key_id == after
        assert b"".join(open_version_source(version).open("Logic/GetCustomer.oml"))


def test_the_queue_cannot_retire_keys_before_the_rewrapping_is_done():
    with pytest.raises(CommandError):
        call_command("rotate_master_key", "--queue", "--retire-old", stdout=io.StringIO())


def test_a_mail_server_that_does_not_answer_does_not_undo_the_decision(
    world, pending, settings, django_capture_on_commit_callbacks, caplog
):
    # A real SMTP backend aimed at a port nobody listens on, with the site's timeout.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", unused_port()
    assert settings.EMAIL_TIMEOUT == 10
    with django_capture_on_commit_callbacks(execute=True):
        transfer_approve(user=world.acme_admin, transfer=pending)
    pending.refresh_from_db()
    assert pending.status == TransferRequest.Status.APPROVED
    assert TransferItem.objects.get(request=pending).package_size is not None
    assert "could not send the destination notice" in caplog.text
