"""PostgreSQL restarted under write load: every acknowledged write is there afterwards, and the service is
ready again within 5 seconds of the database.

Usage: postgres_restart.py BASE_URL MSP_JSON RESTART_COMMAND...
Creates tenants through the API from four workers for 8 seconds; after 3 seconds it runs RESTART_COMMAND
(which stops PostgreSQL the hard way and starts it again), then measures how long `/readyz` takes to answer
200 once the command returned. Every tenant whose create was answered 201 must be listed afterwards; every
answer must be 201 or 503 (a client-visible problem, never a 500); readiness must return within 5 s.
Exit status 0 when all of that holds, 1 otherwise (the reason is printed).
"""

import json
import subprocess
import sys
import threading
import time

import requests

LOAD_SECONDS = 8.0
RESTART_AFTER = 3.0
READY_WITHIN = 5.0
WORKERS = 4


def main():
    base, msp_json, restart = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(msp_json) as handle:
        bootstrap = json.load(handle)
    msp, key = bootstrap["msp_id"], bootstrap["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    acknowledged, statuses, lock = [], {}, threading.Lock()
    stop = time.monotonic() + LOAD_SECONDS

    def worker(number):
        session = requests.Session()
        session.headers.update(headers)
        sequence = 0
        while time.monotonic() < stop:
            sequence += 1
            name = f"restart-{number}-{sequence}"
            try:
                answer = session.post(f"{base}/v1/msps/{msp}/tenants", json={"name": name}, timeout=10)
                status = answer.status_code
            except requests.RequestException:
                status = "connection error"
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 201:
                    acknowledged.append(name)
            if status != 201:
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    time.sleep(RESTART_AFTER)
    subprocess.run(restart, check=True)
    database_back = time.monotonic()
    ready_after = None
    while time.monotonic() - database_back < 30:
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                ready_after = time.monotonic() - database_back
                break
        except requests.RequestException:
            pass
        time.sleep(0.05)
    for thread in threads:
        thread.join()

    listed, cursor = set(), None
    while True:
        url = f"{base}/v1/msps/{msp}/tenants?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = requests.get(url, headers=headers, timeout=10).json()
        listed.update(item["name"] for item in page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break

    missing = [name for name in acknowledged if name not in listed]
    unexpected = {status: count for status, count in statuses.items() if status not in (201, 503)}
    print(
        f"postgres restart: {len(acknowledged)} creates acknowledged, answers {statuses}, "
        f"ready {ready_after if ready_after is None else round(ready_after, 2)} s after the database",
        flush=True,
    )
    failures = []
    if missing:
        failures.append(f"{len(missing)} acknowledged tenants are missing, e.g. {missing[:3]}")
    if unexpected:
        failures.append(f"answers other than 201 and 503: {unexpected}")
    if ready_after is None or ready_after > READY_WITHIN:
        failures.append(f"not ready within {READY_WITHIN} s of the database (took {ready_after})")
    if not acknowledged:
        failures.append("no create was acknowledged: the load did not run")
    for failure in failures:
        print(f"postgres restart: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
