#!/usr/bin/env python3
"""Charter bundle interop with an independent JOSE implementation (joserfc).

Usage: jose_interop.py MODE INPUT_JSON_FILE

Modes (input and output are JSON objects):

  versions
      -> {"python": ..., "joserfc": ...}

  open
      {"device_private_jwk": {...X25519 with d...}, "tenant_public_jwk": {...Ed25519...}, "bundle": "<JWE>"}
      Decrypts the JWE with joserfc, checks its header (alg ECDH-ES+A256KW, enc A256GCM, cty JWT,
      kid = the device key's thumbprint as joserfc computes it), verifies the inner JWS with the
      tenant key (alg Ed25519, kid = the tenant key's thumbprint, typ charter-bundle+jwt), and prints
      -> {"jwe_header": {...}, "jws_header": {...}, "claims": {...}}

  issue
      {"tenant_private_jwk": {...Ed25519 with d...}, "device_public_jwk": {...X25519...},
       "claims": {...}, "alg": "Ed25519" | "EdDSA"}
      Signs the claims with joserfc (nested JWT: JWS inside ECDH-ES+A256KW/A256GCM JWE) and prints
      -> {"bundle": "<JWE>"}

  pin-response
      {"secret": "<base64url>", "challenge": "K7M2Q9XD", "step": 1963584, "digits": 8}
      Computes the offline-PIN response with Python's hmac, independently of Charter's code.
      -> {"response": "8018-2374"}

Exit status: 0 on success, 2 on a check that failed (message on stderr), 3 when joserfc is missing.
"""

import base64
import hashlib
import hmac
import json
import sys

try:
    import joserfc
    from joserfc import jwe, jws
    from joserfc.jwk import OKPKey
except ImportError as error:  # pragma: no cover - reported to the Swift test as a hint
    sys.stderr.write(f"joserfc is not installed for {sys.executable}: {error}\n"
                     "install it with: pip install 'joserfc>=1.6,<2'\n")
    sys.exit(3)

BUNDLE_TYPE = "charter-bundle+jwt"
JWE_ALGORITHMS = ["ECDH-ES+A256KW", "A256GCM"]
JWS_ALGORITHMS = ["Ed25519", "EdDSA"]


def fail(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.exit(2)


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def open_bundle(request: dict) -> dict:
    device_key = OKPKey.import_key(request["device_private_jwk"])
    tenant_key = OKPKey.import_key(request["tenant_public_jwk"])
    encrypted = jwe.decrypt_compact(request["bundle"], device_key, algorithms=JWE_ALGORITHMS)
    jwe_header = encrypted.headers()
    expect(jwe_header.get("alg") == "ECDH-ES+A256KW", f"JWE alg is {jwe_header.get('alg')}")
    expect(jwe_header.get("enc") == "A256GCM", f"JWE enc is {jwe_header.get('enc')}")
    expect(jwe_header.get("cty") == "JWT", f"JWE cty is {jwe_header.get('cty')}")
    expect(jwe_header.get("kid") == device_key.thumbprint(),
           f"JWE kid {jwe_header.get('kid')} is not the device key thumbprint {device_key.thumbprint()}")
    signed = jws.deserialize_compact(encrypted.plaintext, tenant_key, algorithms=JWS_ALGORITHMS)
    jws_header = signed.headers()
    expect(jws_header.get("alg") == "Ed25519", f"JWS alg is {jws_header.get('alg')}")
    expect(jws_header.get("typ") == BUNDLE_TYPE, f"JWS typ is {jws_header.get('typ')}")
    expect(jws_header.get("kid") == tenant_key.thumbprint(),
           f"JWS kid {jws_header.get('kid')} is not the tenant key thumbprint {tenant_key.thumbprint()}")
    return {"jwe_header": jwe_header, "jws_header": jws_header, "claims": json.loads(signed.payload)}


def issue_bundle(request: dict) -> dict:
    tenant_key = OKPKey.import_key(request["tenant_private_jwk"])
    device_key = OKPKey.import_key(request["device_public_jwk"])
    alg = request.get("alg", "Ed25519")
    payload = json.dumps(request["claims"], separators=(",", ":")).encode("utf-8")
    signed = jws.serialize_compact(
        {"alg": alg, "kid": tenant_key.thumbprint(), "typ": BUNDLE_TYPE},
        payload,
        tenant_key,
        algorithms=[alg],
    )
    bundle = jwe.encrypt_compact(
        {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": device_key.thumbprint(), "cty": "JWT"},
        signed.encode("ascii"),
        device_key,
        algorithms=JWE_ALGORITHMS,
    )
    return {"bundle": bundle}


def pin_response(request: dict) -> dict:
    message = f"charter-offline-pin/v1\n{request['challenge']}\n{request['step']}".encode("utf-8")
    mac = hmac.new(b64url_decode(request["secret"]), message, hashlib.sha256).digest()
    digits = int(request.get("digits", 8))
    code = str(int.from_bytes(mac[:8], "big") % 10**digits).zfill(digits)
    half = (digits + 1) // 2
    return {"response": f"{code[:half]}-{code[half:]}"}


def versions(_: dict) -> dict:
    return {"python": sys.version.split()[0], "joserfc": getattr(joserfc, "__version__", "unknown")}


MODES = {"open": open_bundle, "issue": issue_bundle, "pin-response": pin_response, "versions": versions}


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in MODES:
        fail(f"usage: {sys.argv[0]} {'|'.join(MODES)} INPUT_JSON_FILE")
    with open(sys.argv[2], encoding="utf-8") as handle:
        request = json.load(handle)
    try:
        result = MODES[sys.argv[1]](request)
    except Exception as error:  # joserfc's own errors: report them as a failed check
        fail(f"{type(error).__name__}: {error}")
    json.dump(result, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
