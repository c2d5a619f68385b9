"""Checks the admin API against its OpenAPI document from outside, with schemathesis.

Builds a world through the API itself (a tenant with a synced directory, an enrolled device with a pending
request, a subsetting, a baseline, a webhook, keys and tokens), writes a schemathesis configuration that hands every
operation real identifiers, and runs schemathesis with the checks issue 14 names. Destructive operations
(delete, revoke) get identifiers of their own, so they cannot take away what the other operations use.

Usage: contract.py BASE_URL MSP_JSON WORK_DIR   (the LDAP fixture is read from CHARTER_TEST_LDAP_* variables)
Exit status: schemathesis's.
"""

import base64
import json
import os
import subprocess
import sys
import time

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
]


ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]

STATE_DEPENDENT_422 = {
    "createMSPAPIKey": "expires_at must lie in the future",
    "createTenantAPIKey": "expires_at must lie in the future",
    "createEnrollmentToken": "expires_at must lie in the future",
    "createSubsetting": "the scope must name groups and OUs of the tenant's synced directory",
    "replaceSubsetting": "the scope must name groups and OUs of the tenant's synced directory",
    "updateSubsetting": "the scope must name groups and OUs of the tenant's synced directory",
    "reorderSubsettings": "ids must name every subsetting of the tenant exactly once",
    "createWebhook": "the URL's host must resolve to an address the outbound policy allows",
    "createMSPWebhook": "the URL's host must resolve to an address the outbound policy allows",
    "updateMSPWebhook": "the URL's host must resolve to an address the outbound policy allows",
    "createPersonGrant": "tenant_id must name a tenant of the MSP",
    "createRoleMapping": "tenant_id must name a tenant of the MSP",
    "createDirectoryConnection": "the URLs' hosts must resolve to addresses the outbound policy allows; "
    "connector_ids must name the tenant's enrolled connectors; the mode decides which fields are required",
    "updateDirectoryConnection": "the URLs' hosts must resolve to addresses the outbound policy allows; "
    "connector_ids must name the tenant's enrolled connectors; the mode decides which fields are allowed",
    "putIdentityProvider": "client_secret is required unless the stored provider has the same issuer and client_id",
    "approveRequest": "scope, group, duration_minutes and add_to_pre_approved must fit the request: a scope other "
    "than request needs its application (the contract's requests are admin sessions without one), group must hold "
    "the requesting user, subsetting must name one of the tenant's",
    "createPreApprovedApplication": "an id in the body must not be another entry's",
    "replacePreApprovedApplication": "an id in the body must be the entry's id in the path",
    "createSubsettingPreApprovedApplication": "an id in the body must not be another entry's",
    "replaceSubsettingPreApprovedApplication": "an id in the body must be the entry's id in the path",
    "createBaselinePreApprovedApplication": "an id in the body must not be another entry's",
    "replaceBaselinePreApprovedApplication": "an id in the body must be the entry's id in the path",
    "getTenantElevationReport": "from must lie before to, and at most 366 days before it",
    "getMSPElevationReport": "from must lie before to, and at most 366 days before it",
    "createBaseline": "scope entries must be well-formed SIDs, relative ids or OU paths, distinct by what they find",
    "replaceBaseline": "scope entries must be well-formed SIDs, relative ids or OU paths, distinct by what they find",
    "assignTenantBaselines": "ids must name baselines of the tenant's MSP",
}


class API:
    def __init__(self, base, key):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method, path, body=None, expect=(200, 201, 202, 204), headers=None):
        response = self.session.request(method, self.base + path, json=body, headers=headers or {}, timeout=60)
        if response.status_code not in expect:
            raise SystemExit(f"setup: {method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(key, crv, use):
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": crv, "x": b64url(raw), "use": use}


def enroll(base, token, hostname):
    body = {
        "enrollment_token": token,
        "hostname": hostname,
        "agent_version": "contract-1",
        "encryption_key": public_jwk(x25519.X25519PrivateKey.generate(), "X25519", "enc"),
        "signing_key": public_jwk(ed25519.Ed25519PrivateKey.generate(), "Ed25519", "sig"),
    }
    response = requests.post(f"{base}/v1/agent/enroll", json=body, timeout=30)
    if response.status_code not in (200, 201, 202):
        raise SystemExit(f"setup: enroll answered {response.status_code}: {response.text}")
    return response.json()


def enroll_connector(base, token, name):
    body = {
        "enrollment_token": token,
        "name": name,
        "hostname": "connector.contract.example",
        "version": "contract-1",
        "signing_key": public_jwk(ed25519.Ed25519PrivateKey.generate(), "Ed25519", "sig"),
    }
    response = requests.post(f"{base}/v1/connector/enroll", json=body, timeout=30)
    if response.status_code != 201:
        raise SystemExit(f"setup: connector enroll answered {response.status_code}: {response.text}")
    return response.json()["connector_id"]


def wait_for_run(api, tenant, run_id):
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run = api.call("GET", f"/v1/tenants/{tenant}/directory/sync-runs/{run_id}")
        if run["status"] != "running":
            return run
        time.sleep(0.5)
    raise SystemExit("setup: the directory sync did not finish within 5 minutes")


def build_world(base, msp, key):
    api = API(base, key)
    tenant = api.call("POST", f"/v1/msps/{msp}/tenants", {"name": "Contract tenant"})["id"]
    doomed_tenant = api.call("POST", f"/v1/msps/{msp}/tenants", {"name": "Contract tenant to delete"})["id"]
    t = f"/v1/tenants/{tenant}"

    connection = api.call(
        "POST",
        f"{t}/directory/connections",
        {
            "name": "Contract DC",
            "urls": [os.environ.get("CHARTER_TEST_LDAP_URL", "ldap://127.0.0.2")],
            "base_dn": os.environ.get("CHARTER_TEST_LDAP_BASE_DN", "dc=charter,dc=test"),
            "bind_dn": os.environ.get("CHARTER_TEST_LDAP_BIND_DN", "cn=Administrator,cn=Users,dc=charter,dc=test"),
            "bind_password": os.environ.get("CHARTER_TEST_LDAP_PASSWORD", "Charter-Test-Pass1"),
            "tls_mode": "plain",
        },
    )["id"]
    doomed_connection = api.call(
        "POST",
        f"{t}/directory/connections",
        {
            "name": "Contract DC to delete",
            "urls": ["ldap://127.0.0.2"],
            "base_dn": "dc=charter,dc=test",
            "bind_dn": "cn=nobody,dc=charter,dc=test",
            "bind_password": "unused",
            "tls_mode": "plain",
            "enabled": False,
        },
    )["id"]
    started = api.call("POST", f"{t}/directory/connections/{connection}/sync", {"kind": "full"})
    run = wait_for_run(api, tenant, started["id"])
    if run["status"] != "succeeded":
        raise SystemExit(f"setup: the directory sync ended {run['status']}: {run.get('error')}")

    user = api.call("GET", f"{t}/directory/users?limit=1")["items"][0]["guid"]
    computer = api.call("GET", f"{t}/directory/computers?limit=1")["items"][0]["guid"]
    group = api.call("GET", f"{t}/directory/groups?limit=1")["items"][0]["guid"]
    ou = api.call("GET", f"{t}/directory/ous?limit=1")["items"][0]["guid"]

    subsetting = api.call(
        "POST",
        f"{t}/subsettings",
        {
            "schema_version": 1,
            "name": "Contract subsetting",
            "target": "user",
            "scope": {"groups": [group]},
            "overrides": {"run_as_admin": {"mode": "audit_only"}},
        },
    )["id"]
    doomed_subsetting = api.call(
        "POST",
        f"{t}/subsettings",
        {
            "schema_version": 1,
            "name": "Contract subsetting to delete",
            "target": "computer",
            "scope": {"ous": [ou]},
            "overrides": {},
        },
    )["id"]

    baseline = api.call(
        "POST",
        f"/v1/msps/{msp}/baselines",
        {
            "schema_version": 1,
            "name": "Contract baseline",
            "settings": {"endpoint": {"offline_grace_period_hours": 24}},
            "subsettings": [
                {"name": "Admins", "target": "user", "scope": {"groups": ["-512"]}, "overrides": {}},
            ],
        },
    )["id"]
    doomed_baseline = api.call(
        "POST", f"/v1/msps/{msp}/baselines", {"schema_version": 1, "name": "Contract baseline to delete"}
    )["id"]
    api.call("PUT", f"{t}/baselines", {"ids": [baseline]})

    enrollment = api.call("POST", f"{t}/enrollment-tokens", {"name": "contract", "max_uses": 10})
    doomed_enrollment = api.call("POST", f"{t}/enrollment-tokens", {"name": "contract, to revoke"})["token"]["id"]
    device = enroll(base, enrollment["secret"], "CONTRACT-1")
    doomed_device = enroll(base, enrollment["secret"], "CONTRACT-2")["device_id"]
    # A second enrollment for CONTRACT-1 without proof by its key waits for approval.
    pending_device = enroll(base, enrollment["secret"], "CONTRACT-1")["device_id"]
    revoked_device = enroll(base, enrollment["secret"], "CONTRACT-3")["device_id"]
    api.call("DELETE", f"{t}/devices/{revoked_device}")
    connector_enrollment = api.call(
        "POST", f"{t}/enrollment-tokens", {"name": "contract connectors", "purpose": "connector", "max_uses": 2}
    )
    connector = enroll_connector(base, connector_enrollment["secret"], "Contract connector")
    doomed_connector = enroll_connector(base, connector_enrollment["secret"], "Contract connector to revoke")

    agent = requests.Session()
    agent.headers["Authorization"] = f"Bearer {device['device_token']}"
    request_ids = []
    for _ in range(3):
        response = agent.post(
            f"{base}/v1/agent/requests",
            json={"kind": "admin_session", "user": {"guid": user}, "reason": "contract test"},
            timeout=30,
        )
        if response.status_code != 201:
            raise SystemExit(f"setup: agent request answered {response.status_code}: {response.text}")
        request_ids.append(response.json()["id"])

    entry = {"file_name": "setup.exe", "kind": "installer", "applies_to": ["run_as_admin"], "protection": {"type": "none"}}
    pre_approved = api.call("POST", f"{t}/settings/pre-approved-applications", entry)["id"]
    doomed_pre_approved = api.call("POST", f"{t}/settings/pre-approved-applications", entry)["id"]

    webhook = api.call("POST", f"{t}/webhooks", {"url": "https://hooks.example.com/charter", "events": ["request.created"]})
    doomed_webhook = api.call(
        "POST", f"{t}/webhooks", {"url": "https://hooks.example.com/doomed", "events": ["request.created"]}
    )["webhook"]["id"]

    msp_key = api.call("POST", f"/v1/msps/{msp}/api-keys", {"name": "contract, to revoke", "role": "auditor"})["key"]["id"]
    tenant_key = api.call("POST", f"{t}/api-keys", {"name": "contract, to revoke", "role": "auditor"})["key"]["id"]

    return {
        "tenant": tenant,
        "doomed_tenant": doomed_tenant,
        "connection": connection,
        "doomed_connection": doomed_connection,
        "run": run["id"],
        "user": user,
        "computer": computer,
        "group": group,
        "ou": ou,
        "subsetting": subsetting,
        "doomed_subsetting": doomed_subsetting,
        "baseline": baseline,
        "doomed_baseline": doomed_baseline,
        "enrollment_token": enrollment["token"]["id"],
        "doomed_enrollment_token": doomed_enrollment,
        "device": device["device_id"],
        "doomed_device": doomed_device,
        "pending_device": pending_device,
        "revoked_device": revoked_device,
        "connector": connector,
        "doomed_connector": doomed_connector,
        "requests": request_ids,
        "pre_approved": pre_approved,
        "doomed_pre_approved": doomed_pre_approved,
        "webhook": webhook["webhook"]["id"],
        "doomed_webhook": doomed_webhook,
        "msp_key": msp_key,
        "tenant_key": tenant_key,
    }


def toml_string(value):
    return json.dumps(value)


def configuration(msp, world):
    """The schemathesis configuration: global path parameters, and per-operation ones where ids differ."""
    lines = [
        "# Written by Tests/contract/contract.py for one run; not checked in.",
        # JSON travels as UTF-8 (RFC 8259 §8.1), so no lone surrogates; the API refuses U+0000 in any text
        # (PostgreSQL cannot store it), as the document's description says.
        "[generation]",
        "allow-x00 = false",
        'codec = "utf-8"',
        "",
        "[checks.positive_data_acceptance]",
        # 412 is a precondition on the stored version (state, like the 404 and 409 the default allows): a
        # well-formed If-Match naming another version is refused however well-formed it is.
        f"expected-statuses = {json.dumps(ACCEPTED)}",
        "",
        "[parameters]",
        f'"path.msp" = {toml_string(msp)}',
        f'"path.tenant" = {toml_string(world["tenant"])}',
        f'"path.connection" = {toml_string(world["connection"])}',
        f'"path.run" = {toml_string(world["run"])}',
        "",
    ]

    def operation(operation_id, **parameters):
        lines.append("[[operations]]")
        lines.append(f"include-operation-id = {toml_string(operation_id)}")
        for name, value in parameters.items():
            lines.append(f'parameters."path.{name}" = {toml_string(value)}')
        lines.append("")

    # Operations where a well-formed body can still be refused with 422 for what no schema can say: a time
    # that has passed, objects the tenant's directory does not hold, a list that must name exactly the
    # tenant's subsettings, a destination checked against the network.
    for op, why in STATE_DEPENDENT_422.items():
        lines.append(f"# {op}: {why}")
        lines.append("[[operations]]")
        lines.append(f"include-operation-id = {toml_string(op)}")
        lines.append(f"checks.positive_data_acceptance.expected-statuses = {json.dumps(ACCEPTED + ['422'])}")
        lines.append("")

    operation("deleteTenant", tenant=world["doomed_tenant"])
    operation("deleteDirectoryConnection", connection=world["doomed_connection"])
    for op in ("getSubsetting", "replaceSubsetting", "updateSubsetting"):
        operation(op, id=world["subsetting"])
    operation("deleteSubsetting", id=world["doomed_subsetting"])
    for op in ("getBaseline", "replaceBaseline"):
        operation(op, id=world["baseline"])
    operation("deleteBaseline", id=world["doomed_baseline"])
    for op in ("getDirectoryUser", "getDirectoryUserGroups"):
        operation(op, guid=world["user"])
    for op in ("getDirectoryComputer", "getDirectoryComputerGroups"):
        operation(op, guid=world["computer"])
    operation("getDirectoryGroup", guid=world["group"])
    operation("getDirectoryOU", guid=world["ou"])
    operation("getEnrollmentToken", id=world["enrollment_token"])
    operation("revokeEnrollmentToken", id=world["doomed_enrollment_token"])
    for op in ("getDevice", "answerPINChallenge"):
        operation(op, id=world["device"])
    operation("revokeDevice", id=world["doomed_device"])
    operation("approveDevice", id=world["pending_device"])
    operation("restoreDevice", id=world["revoked_device"])
    operation("getConnector", id=world["connector"])
    operation("revokeConnector", id=world["doomed_connector"])
    operation("getRequest", id=world["requests"][0])
    operation("approveRequest", id=world["requests"][1])
    operation("denyRequest", id=world["requests"][2])
    for op in ("getPreApprovedApplication", "replacePreApprovedApplication"):
        operation(op, entry=world["pre_approved"])
    operation("deletePreApprovedApplication", entry=world["doomed_pre_approved"])
    for op in ("getWebhook", "listWebhookDeliveries"):
        operation(op, id=world["webhook"])
    operation("deleteWebhook", id=world["doomed_webhook"])
    operation("revokeMSPAPIKey", key=world["msp_key"])
    operation("revokeTenantAPIKey", key=world["tenant_key"])
    return "\n".join(lines)


def main():
    base, msp_json, work = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(msp_json) as handle:
        bootstrap = json.load(handle)
    msp, key = bootstrap["msp_id"], bootstrap["api_key"]
    world = build_world(base, msp, key)
    config = os.path.join(work, "schemathesis.toml")
    with open(config, "w") as handle:
        handle.write(configuration(msp, world))
    print(f"contract: world built (tenant {world['tenant']}); running schemathesis", flush=True)
    command = [
        os.path.join(os.path.dirname(sys.executable), "st"),
        "--config-file",
        config,
        "run",
        f"{base}/openapi.yaml",
        "--url",
        base,
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        os.environ.get("CHARTER_CONTRACT_PHASES", "examples,coverage,fuzzing,stateful"),
        "--max-examples",
        os.environ.get("CHARTER_CONTRACT_EXAMPLES", "25"),
        "--seed",
        # A fixed seed by default, so a CI run can be replayed; set CHARTER_CONTRACT_SEED to explore others.
        os.environ.get("CHARTER_CONTRACT_SEED", "20261206"),
        # One worker: with two, CPython 3.11's ast.parse (hypothesis describes its lambdas with it) fails now
        # and then with "AST constructor recursion depth mismatch", an error in the tool, not the service.
        "--workers",
        "1",
        "--no-color",
    ]
    environment = dict(os.environ, SCHEMATHESIS_HOOKS=os.path.join(os.path.dirname(__file__), "contract_hooks.py"))
    return subprocess.call(command, cwd=work, env=environment)


if __name__ == "__main__":
    sys.exit(main())
