"""Sign-in hardening: lockout after repeated failures, API tokens, upload guard, CSP helpers."""
