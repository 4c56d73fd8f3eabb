"""The logs' API (SPEC §7): who reads which log, the shapes the verifier and witness read,
entries, proofs checked with audit.merkle, witnesses and cosignatures."""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit import merkle
from audit.models import AuditEntry, Cosignature, TreeHead, Witness
from audit.services import audit_record
from core import keys

pytestmark = pytest.mark.django_db
LINES = "application/jsonl"


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def logs(world):
    for n in range(5):
        audit_record(
            actor=world.developer,
            action="module.published",
            infrastructure=world.acme,
            details={"n": n},
        )
    audit_record(actor=world.support, action="ipp.protection_changed", infrastructure=world.emca)
    audit_record(actor=world.support, action="user.created", subject=world.outsider)
    return world


def log_of(world, name: str) -> str:
    return {"acme": str(world.acme.pk), "emca": str(world.emca.pk), "site": "site"}[name]


ENDPOINTS = [
    "tree-head",
    "entries?start=0&end=1",
    "proof/inclusion?index=0&size=1",
    "proof/consistency?first=1&second=1",
]

# persona -> the logs it reads; every other log is 404, as is a log that does not exist
READS = {
    "support": {"acme", "emca", "site"},
    "acme_admin": {"acme"},
    "emca_admin": {"emca"},
    "developer": set(),
    "contractor": set(),
    "outsider": set(),
}


@pytest.mark.parametrize("persona", list(READS))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_log_endpoints_permission_matrix(logs, persona, endpoint):
    client = client_for(logs.personas()[persona])
    for name in ("acme", "emca", "site"):
        response = client.get(f"/api/v1/audit/logs/{log_of(logs, name)}/{endpoint}")
        expected = 200 if name in READS[persona] else 404
        assert response.status_code == expected, (name, response.json())
    missing = client.get(f"/api/v1/audit/logs/4242/{endpoint}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.parametrize("persona", list(READS))
def test_the_lines_format_has_the_same_readers(logs, persona):
    client = client_for(logs.personas()[persona])
    for name in ("acme", "emca", "site", "missing"):
        log = "4242" if name == "missing" else log_of(logs, name)
        response = client.get(f"/api/v1/audit/logs/{log}/entries", HTTP_ACCEPT=LINES)
        if name in READS[persona]:
            assert response.status_code == 200 and response["Content-Type"] == LINES
        else:  # the error is a JSON body, and says nothing of the log
            assert response.status_code == 404, response.content
            assert response["Content-Type"] == "application/json"
            assert json.loads(response.content)["error"] == "not_found"


@pytest.mark.parametrize("endpoint", ["keys", "logs", "logs/site/tree-head", "witnesses"])
def test_anonymous_callers_get_401(logs, endpoint):
    call = client_for().post if endpoint == "witnesses" else client_for().get
    response = call(f"/api/v1/audit/{endpoint}")
    assert response.status_code == 401 and response.json()["error"] == "not_authenticated"


@pytest.mark.parametrize(
    "persona, status, listed",
    [
        ("support", 200, {"acme", "emca", "site"}),
        ("acme_admin", 200, {"acme"}),
        ("emca_admin", 200, {"emca"}),
        ("developer", 403, None),
        ("outsider", 403, None),
    ],
)
def test_the_logs_list_shows_the_logs_the_caller_reads(logs, persona, status, listed):
    response = client_for(logs.personas()[persona]).get("/api/v1/audit/logs")
    assert response.status_code == status
    if listed is None:
        assert response.json()["error"] == "permission_denied"
        return
    rows = response.json()["results"]
    assert {row["log"] for row in rows} == {log_of(logs, name) for name in listed}
    sizes = {"acme": 5, "emca": 1, "site": 1}
    for name in listed:
        row = next(r for r in rows if r["log"] == log_of(logs, name))
        infrastructure = None if name == "site" else getattr(logs, name).pk
        assert row == {
            "log": log_of(logs, name),
            "infrastructure": infrastructure,
            "size": sizes[name],
        }


@pytest.mark.parametrize("persona", ["support", "developer", "outsider"])
def test_every_signed_in_user_reads_the_authority_keys(logs, persona):
    body = client_for(logs.personas()[persona]).get("/api/v1/audit/keys").json()
    ring = keys.authority()
    assert body == {
        "keys": [
            {"key_id": kid, "algorithm": "ed25519", "public_key": base64.b64encode(raw).decode()}
            for kid, raw in ring.public_keys()
        ]
    }


def test_the_tree_head_is_the_signed_head_at_the_logs_size(logs):
    log = log_of(logs, "acme")
    body = client_for(logs.acme_admin).get(f"/api/v1/audit/logs/{log}/tree-head").json()
    head = TreeHead.objects.get(log_id=log, size=5)
    assert body == {
        "log": log,
        "size": 5,
        "root_hash": bytes(head.root).hex(),
        "timestamp": head.timestamp,
        "key_id": head.key_id,
        "signature": head.signature,
        "cosignatures": [],
    }
    message = merkle.tree_head_message(log, 5, bytes(head.root), body["timestamp"])
    assert keys.authority().verify(body["key_id"], message, body["signature"])


def test_entries_are_the_exact_bytes_and_their_parse(logs):
    log = log_of(logs, "acme")
    client = client_for(logs.support)
    body = client.get(f"/api/v1/audit/logs/{log}/entries?start=1&end=3").json()
    assert [e["index"] for e in body["entries"]] == [1, 2]
    for item in body["entries"]:
        stored = bytes(AuditEntry.objects.get(log_id=log, index=item["index"]).leaf)
        assert base64.b64decode(item["leaf"]) == stored
        assert item["entry"]["details"] == {"n": item["index"]}
    assert len(client.get(f"/api/v1/audit/logs/{log}/entries").json()["entries"]) == 5
    assert client.get(f"/api/v1/audit/logs/{log}/entries?start=5&end=9").json() == {"entries": []}


def test_the_lines_format_is_each_entrys_exact_bytes_on_a_line(logs):
    log = log_of(logs, "acme")
    client = client_for(logs.acme_admin)
    stored = [bytes(leaf) for leaf in stored_leaves(log)]
    whole = client.get(f"/api/v1/audit/logs/{log}/entries", HTTP_ACCEPT=LINES)
    assert whole.status_code == 200 and whole["Content-Type"] == LINES
    assert whole.content == b"".join(leaf + b"\n" for leaf in stored)
    part = client.get(f"/api/v1/audit/logs/{log}/entries?start=1&end=3", HTTP_ACCEPT=LINES)
    assert part.content.split(b"\n") == [stored[1], stored[2], b""]
    past = client.get(f"/api/v1/audit/logs/{log}/entries?start=5&end=9", HTTP_ACCEPT=LINES)
    assert past.status_code == 200 and past.content == b"" and past["Content-Type"] == LINES
    # ?format=jsonl (DRF's override of Accept) selects it too
    same = client.get(f"/api/v1/audit/logs/{log}/entries?format=jsonl&start=1&end=3")
    assert same["Content-Type"] == LINES and same.content == part.content
    # what the verifier asks for (lines, else whatever the site has) gets lines
    asked = client.get(
        f"/api/v1/audit/logs/{log}/entries", HTTP_ACCEPT="application/jsonl, */*;q=0.1"
    )
    assert asked["Content-Type"] == LINES and asked.content == whole.content
    # JSON stays the default, and what a JSON client gets
    assert client.get(f"/api/v1/audit/logs/{log}/entries")["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "query, status, code",
    [
        ("start=0&end=10000", 200, None),
        ("start=0&end=10001", 400, "bad_range"),
        ("start=3&end=1", 400, "bad_range"),
        ("start=x", 400, "invalid_request"),
    ],
)
def test_the_lines_format_takes_up_to_10000_a_call(logs, query, status, code):
    response = client_for(logs.support).get(
        f"/api/v1/audit/logs/site/entries?{query}", HTTP_ACCEPT=LINES
    )
    assert response.status_code == status
    if code:
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content)["error"] == code


def stored_leaves(log: str) -> list:
    return AuditEntry.objects.filter(log_id=log).order_by("index").values_list("leaf", flat=True)


@pytest.mark.parametrize(
    "query, code",
    [
        ("start=3&end=1", "bad_range"),
        ("start=0&end=1001", "bad_range"),
        ("start=-1", "invalid_request"),
        ("start=x", "invalid_request"),
    ],
)
def test_bad_entry_ranges_are_400(logs, query, code):
    response = client_for(logs.support).get(f"/api/v1/audit/logs/site/entries?{query}")
    assert response.status_code == 400 and response.json()["error"] == code


def _hashes(log: str) -> list[bytes]:
    rows = AuditEntry.objects.filter(log_id=log).order_by("index").values_list("leaf", flat=True)
    return merkle.leaf_hashes_of([bytes(leaf) for leaf in rows])


def test_inclusion_proofs_verify_against_the_signed_roots(logs):
    log, client = log_of(logs, "acme"), client_for(logs.acme_admin)
    hashes = _hashes(log)
    for size in range(1, 6):
        root = bytes(TreeHead.objects.get(log_id=log, size=size).root)
        for index in range(size):
            body = client.get(
                f"/api/v1/audit/logs/{log}/proof/inclusion?index={index}&size={size}"
            ).json()
            assert (body["index"], body["size"]) == (index, size)
            path = [bytes.fromhex(node) for node in body["path"]]
            merkle.verify_inclusion(index, size, hashes[index], path, root)
    default = client.get(f"/api/v1/audit/logs/{log}/proof/inclusion?index=0").json()
    assert default["size"] == 5


def test_consistency_proofs_verify_between_signed_heads(logs):
    log, client = log_of(logs, "acme"), client_for(logs.acme_admin)
    roots = {h.size: bytes(h.root) for h in TreeHead.objects.filter(log_id=log)}
    for first in range(1, 6):
        for second in range(first, 6):
            body = client.get(
                f"/api/v1/audit/logs/{log}/proof/consistency?first={first}&second={second}"
            ).json()
            assert (body["first"], body["second"]) == (first, second)
            path = [bytes.fromhex(node) for node in body["path"]]
            merkle.verify_consistency(first, second, roots[first], roots[second], path)


@pytest.mark.parametrize(
    "endpoint",
    [
        "proof/inclusion?index=5&size=5",
        "proof/inclusion?index=0&size=6",
        "proof/consistency?first=3&second=2",
        "proof/consistency?first=1&second=6",
        "proof/consistency?first=0&second=2",
    ],
)
def test_proofs_outside_the_log_are_400(logs, endpoint):
    response = client_for(logs.support).get(f"/api/v1/audit/logs/{log_of(logs, 'acme')}/{endpoint}")
    assert response.status_code == 400
    assert response.json()["error"] in {"bad_range", "invalid_request"}


# --- witnesses and cosignatures -------------------------------------------------------


def _register(client, name="acme-witness", key=None):
    key = key or Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    return key, client.post(
        "/api/v1/audit/witnesses", {"name": name, "public_key": public}, format="json"
    )


@pytest.mark.parametrize(
    "persona, status", [("support", 201), ("acme_admin", 403), ("developer", 403)]
)
def test_only_support_registers_witnesses(logs, persona, status):
    _key, response = _register(client_for(logs.personas()[persona]))
    assert response.status_code == status
    assert Witness.objects.exists() is (status == 201)


def test_registering_a_witness_is_recorded_and_names_are_unique(logs):
    client = client_for(logs.support)
    key, first = _register(client)
    assert first.json()["name"] == "acme-witness"
    assert AuditEntry.objects.filter(log_id="site", action="witness.registered").count() == 1
    _again, second = _register(client)
    assert second.status_code == 409 and second.json()["error"] == "witness_exists"
    bad = client.post(
        "/api/v1/audit/witnesses", {"name": "w2", "public_key": "bm90IGEga2V5"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


def _cosign(key, log: str, head: dict, witness="acme-witness") -> dict:
    message = merkle.cosignature_message(
        log, head["size"], bytes.fromhex(head["root_hash"]), head["timestamp"]
    )
    return {
        "witness": witness,
        "size": head["size"],
        "root_hash": head["root_hash"],
        "signature": base64.b64encode(key.sign(message)).decode(),
    }


def test_a_valid_cosignature_is_kept_and_shown_with_the_head(logs):
    key, _ = _register(client_for(logs.support))
    log = log_of(logs, "acme")
    head = client_for(logs.acme_admin).get(f"/api/v1/audit/logs/{log}/tree-head").json()
    # the signature is the credential: a developer may carry it
    posted = client_for(logs.developer).post(
        f"/api/v1/audit/logs/{log}/cosignatures", _cosign(key, log, head), format="json"
    )
    assert posted.status_code == 201
    assert posted.json() == {"log": log, "size": 5, "witness": "acme-witness"}
    again = client_for(logs.developer).post(
        f"/api/v1/audit/logs/{log}/cosignatures", _cosign(key, log, head), format="json"
    )
    assert again.status_code == 201 and Cosignature.objects.count() == 1
    shown = client_for(logs.acme_admin).get(f"/api/v1/audit/logs/{log}/tree-head").json()
    assert shown["cosignatures"] == [
        {"witness": "acme-witness", "signature": Cosignature.objects.get().signature}
    ]


@pytest.mark.parametrize("wrong", ["signature", "root", "size", "log", "witness", "unknown log"])
def test_a_cosignature_that_does_not_verify_is_400_bad_cosignature(logs, wrong):
    key, _ = _register(client_for(logs.support))
    log = log_of(logs, "acme")
    head = client_for(logs.support).get(f"/api/v1/audit/logs/{log}/tree-head").json()
    body, target = _cosign(key, log, head), log
    if wrong == "signature":
        body = _cosign(Ed25519PrivateKey.generate(), log, head)
    elif wrong == "root":
        body["root_hash"] = "0" * 64
    elif wrong == "size":
        body["size"] = 99
    elif wrong == "log":
        target = log_of(logs, "emca")  # a head of ACME's log posted to EMCA's
    elif wrong == "witness":
        body["witness"] = "nobody"
    else:
        target = "4242"
    response = client_for(logs.developer).post(
        f"/api/v1/audit/logs/{target}/cosignatures", body, format="json"
    )
    assert response.status_code == 400 and response.json()["error"] == "bad_cosignature"
    assert not Cosignature.objects.exists()


def test_a_malformed_cosignature_is_400_invalid_request(logs):
    response = client_for(logs.developer).post(
        "/api/v1/audit/logs/site/cosignatures",
        {"witness": "w", "size": 0, "root_hash": "XYZ", "signature": "s"},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


# --- a transfer, as the destination reads it -----------------------------------------


def test_destination_administrators_read_a_transfer_in_their_log_and_nothing_else(logs):
    audit_record(
        actor=logs.acme_admin,
        action="transfer.approved",
        infrastructure=logs.acme,
        also=logs.emca,
        details={"destination": "EMCA"},
    )
    emca, acme = log_of(logs, "emca"), log_of(logs, "acme")
    client = client_for(logs.emca_admin)
    entries = client.get(f"/api/v1/audit/logs/{emca}/entries").json()["entries"]
    assert [e["entry"]["action"] for e in entries] == [
        "ipp.protection_changed",
        "transfer.approved",
    ]
    transfer = entries[1]["entry"]
    assert (transfer["infrastructure"], transfer["also"]) == (logs.acme.pk, logs.emca.pk)
    assert client.get(f"/api/v1/audit/logs/{acme}/entries").status_code == 404
    listed = client.get("/api/v1/audit").json()["results"]
    assert [row["action"] for row in listed] == ["transfer.approved", "ipp.protection_changed"]
    assert {row["log"] for row in listed} == {emca}
    assert client.get(f"/api/v1/audit?log={acme}").status_code == 403


def test_the_lines_format_costs_the_same_queries_for_any_range(logs):
    client, log = client_for(logs.support), log_of(logs, "acme")
    counts = []
    for end in (1, 5):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/audit/logs/{log}/entries?end={end}", HTTP_ACCEPT=LINES)
        assert response.content.count(b"\n") == end
        counts.append(len(queries))
    assert counts[0] == counts[1]
