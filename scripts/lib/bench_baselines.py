"""The setup of scripts/bench-baselines: one baseline of the MSP assigned to TENANTS new tenants, each with an
enrollment token for AGENTS devices. Usage: bench_baselines.py BASE MSP_JSON TENANTS AGENTS TOKENS_FILE.
Writes the tokens, one per line, to TOKENS_FILE and prints the baseline's id and the tenants' ids."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "contract"))
from contract import API  # noqa: E402  (the contract test's API client)


def main():
    base, msp_json, tenants, agents, tokens_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    with open(msp_json) as handle:
        bootstrap = json.load(handle)
    msp = bootstrap["msp_id"]
    api = API(base, bootstrap["api_key"])
    # A global section, so that every device of every assigned tenant is affected by an edit.
    document = {"schema_version": 1, "name": "Bench", "settings": {"endpoint": {"offline_grace_period_hours": 24}}}
    identifier = api.call("POST", f"/v1/msps/{msp}/baselines", document)["id"]
    ids = []
    with open(tokens_file, "w") as tokens:
        for index in range(tenants):
            tenant = api.call("POST", f"/v1/msps/{msp}/tenants", {"name": f"Bench tenant {index}"})["id"]
            token = api.call("POST", f"/v1/tenants/{tenant}/enrollment-tokens", {"name": "bench", "max_uses": agents})
            tokens.write(token["secret"] + "\n")
            api.call("PUT", f"/v1/tenants/{tenant}/baselines", {"ids": [identifier]})
            ids.append(tenant)
    print(json.dumps({"baseline": identifier, "tenants": ids}))


if __name__ == "__main__":
    main()
