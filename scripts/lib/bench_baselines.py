"""The client side of scripts/bench-baselines: builds the tenants through the API, parks one long poll per
device, edits the baseline and times the hints. Usage: bench_baselines.py BASE MSP_JSON TENANTS ROUNDS."""

import json
import os
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "contract"))
from contract import API, enroll  # noqa: E402  (the contract test's API client and agent enrollment)


def baseline(hours):
    return {"schema_version": 1, "name": "Bench", "settings": {"endpoint": {"offline_grace_period_hours": hours}}}


def events(base, token, after, wait):
    query = f"wait={wait}" + (f"&last_event_id={after}" if after is not None else "")
    response = requests.get(
        f"{base}/v1/agent/events?{query}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=wait + 30,
    )
    response.raise_for_status()
    return response.json()


def main():
    base, msp_json, tenants, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(msp_json) as handle:
        bootstrap = json.load(handle)
    msp = bootstrap["msp_id"]
    api = API(base, bootstrap["api_key"])
    identifier = api.call("POST", f"/v1/msps/{msp}/baselines", baseline(24))["id"]
    tokens = []
    for index in range(tenants):
        tenant = api.call("POST", f"/v1/msps/{msp}/tenants", {"name": f"Bench tenant {index}"})["id"]
        secret = api.call("POST", f"/v1/tenants/{tenant}/enrollment-tokens", {"name": "bench", "max_uses": 1})["secret"]
        tokens.append(enroll(base, secret, f"BENCH-{index}")["device_token"])
        api.call("PUT", f"/v1/tenants/{tenant}/baselines", {"ids": [identifier]})

    for number, hours in enumerate([12, 6, 3, 1, 2][:rounds], start=1):
        positions = [events(base, token, None, 0)["last_event_id"] for token in tokens]
        arrivals = [None] * len(tokens)

        def wait(index, token, position):
            answer = events(base, token, position, 30)
            if any(event["event"] == "bundle" for event in answer.get("events", [])):
                arrivals[index] = time.monotonic()

        threads = [threading.Thread(target=wait, args=item) for item in zip(range(len(tokens)), tokens, positions)]
        for thread in threads:
            thread.start()
        time.sleep(2)  # every poll parked at the service
        start = time.monotonic()
        api.call("PUT", f"/v1/msps/{msp}/baselines/{identifier}", baseline(hours))
        put = (time.monotonic() - start) * 1000
        for thread in threads:
            thread.join()
        heard = sorted((arrival - start) * 1000 for arrival in arrivals if arrival is not None)
        if not heard:
            print(f"round {number}: PUT {put:.0f} ms; no device heard the hint", flush=True)
            continue
        quantile = lambda q: heard[min(len(heard) - 1, int(q * len(heard)))]  # noqa: E731
        print(
            f"round {number}: PUT {put:.0f} ms; hints {len(heard)}/{len(tokens)}; "
            f"p50 {quantile(0.5):.0f} ms, p99 {quantile(0.99):.0f} ms, max {heard[-1]:.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
