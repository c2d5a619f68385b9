"""schemathesis hooks for Tests/contract/contract.py (loaded through SCHEMATHESIS_HOOKS).

Makes each well-formed Idempotency-Key the run sends unique. schemathesis draws header values from small
pools, so unrelated cases would otherwise reuse a key with another body and get the 422 that reuse
deserves; what a repeated key does is tested in Tests/CharterServerTests/IdempotencyTests.swift. A key that
is not well-formed is left as drawn, so the malformed-key cases still reach the service.
"""

import re
import uuid

import schemathesis

WELL_FORMED = re.compile(r"^[\x21-\x7e]{1,255}$")


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and WELL_FORMED.match(headers[name]):
            # Still well-formed: at most 255 visible ASCII characters.
            headers[name] = f"{headers[name][:218]}-{uuid.uuid4()}"
