"""Schemathesis hooks for tests/api/test_fuzz.py (loaded by the CLI via SCHEMATHESIS_HOOKS).

Signs in through the API itself (POST /api/v1/auth/token) with the persona named in the
environment, and signs in again whenever an answer is 401: DELETE /auth/token is part of
the schema, so the fuzzer revokes its own token now and then and must get a new one.
Imports nothing of the project: this runs in the schemathesis process, not Django's.
"""

import os

import requests
import schemathesis

BASE_URL = os.environ["IPP_FUZZ_BASE_URL"]
USERNAME = os.environ["IPP_FUZZ_USERNAME"]
PASSWORD = os.environ["IPP_FUZZ_PASSWORD"]


@schemathesis.auth(retry_on=[401])
class TokenAuth:
    def get(self, case, context):
        response = requests.post(
            f"{BASE_URL}/api/v1/auth/token",
            json={"username": USERNAME, "password": PASSWORD},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Token {data}"
