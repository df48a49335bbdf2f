#!/usr/bin/env python3
"""Smoke check of a running NetBox through its REST API, standard library only.

Reads URL and TOKEN (a v2 token, sent as "Authorization: Bearer <TOKEN>") from the environment,
e.g. after `. .netbox/env`. Creates a site, location, rack, power panel, power feed, manufacturer,
device type with a power port template, device role and a device in the rack; reads each back;
checks list pagination; deletes everything it created. Exits non-zero on any failure.

    python3 tools/netbox/smoke.py [-v]     # -v prints every object's field names
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

URL = os.environ.get("URL", "").rstrip("/")
TOKEN = os.environ.get("TOKEN", "")
VERBOSE = "-v" in sys.argv[1:]


class ApiError(Exception):
    pass


def api(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{URL}/api/{path.lstrip('/')}",
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raise ApiError(f"{method} {path} -> {e.code}: {e.read().decode(errors='replace')[:500]}") from None


def check(cond, what):
    if not cond:
        raise ApiError(f"check failed: {what}")


def main():
    if not URL or not TOKEN:
        print("smoke: URL and TOKEN must be set (e.g. `. .netbox/env`)", file=sys.stderr)
        return 2
    tag = f"smoke-{os.getpid()}-{int(time.time())}"
    created = []  # (endpoint, id), deleted in reverse order

    def create(endpoint, body):
        status, obj = api("POST", f"{endpoint}/", body)
        check(status == 201, f"POST {endpoint} status {status}")
        created.append((endpoint, obj["id"]))
        status, back = api("GET", f"{endpoint}/{obj['id']}/")
        check(status == 200 and back["id"] == obj["id"], f"GET {endpoint}/{obj['id']}")
        for key, value in body.items():
            got = back[key]
            if isinstance(got, dict):  # nested objects, choice fields {"value", "label"}
                got = got.get("id", got.get("value"))
            if isinstance(value, float) or isinstance(got, float):
                check(float(got) == float(value), f"{endpoint}.{key}: sent {value!r}, read {got!r}")
            else:
                check(got == value, f"{endpoint}.{key}: sent {value!r}, read {got!r}")
        print(f"ok  {endpoint:28} id={back['id']:<5} {back.get('display', '')}")
        if VERBOSE:
            print(f"    fields: {', '.join(sorted(back))}")
        return back

    ok = False
    try:
        status, st = api("GET", "status/")
        check(status == 200, "status")
        print(f"ok  status: NetBox {st.get('netbox-version')}, Django {st.get('django-version')}")

        site = create("dcim/sites", {"name": tag, "slug": tag, "status": "active"})
        loc = create("dcim/locations", {"name": f"{tag}-hall", "slug": f"{tag}-hall", "site": site["id"]})
        rack = create("dcim/racks", {
            "name": f"{tag}-r1", "site": site["id"], "location": loc["id"], "status": "active",
            "u_height": 42, "width": 19, "cooling_capability": "liquid-only", "cooling_capacity": 120.5,
        })
        panel = create("dcim/power-panels", {"name": f"{tag}-pp", "site": site["id"], "location": loc["id"]})
        feed = create("dcim/power-feeds", {
            "name": f"{tag}-feed-a", "power_panel": panel["id"], "rack": rack["id"], "status": "active",
            "type": "primary", "supply": "ac", "phase": "three-phase", "voltage": 415, "amperage": 32,
            "max_utilization": 80,
        })
        mfr = create("dcim/manufacturers", {"name": f"{tag}-mfr", "slug": f"{tag}-mfr"})
        dtype = create("dcim/device-types", {
            "manufacturer": mfr["id"], "model": f"{tag}-node", "slug": f"{tag}-node", "u_height": 4.0,
        })
        create("dcim/power-port-templates", {
            "device_type": dtype["id"], "name": "PSU1", "maximum_draw": 3300, "allocated_draw": 2800,
        })
        role = create("dcim/device-roles", {"name": f"{tag}-role", "slug": f"{tag}-role"})
        dev = create("dcim/devices", {
            "name": f"{tag}-dev1", "device_type": dtype["id"], "role": role["id"], "site": site["id"],
            "location": loc["id"], "rack": rack["id"], "position": 1.0, "face": "front", "status": "active",
        })
        # The device's power port is instantiated from the template.
        _, ports = api("GET", f"dcim/power-ports/?device_id={dev['id']}")
        check(ports["count"] == 1, "device got one power port from its type")
        port = ports["results"][0]
        check(port["maximum_draw"] == 3300 and port["allocated_draw"] == 2800, "power port draws")
        print(f"ok  dcim/power-ports (from template) maximum_draw={port['maximum_draw']} "
              f"allocated_draw={port['allocated_draw']}")
        if VERBOSE:
            print(f"    fields: {', '.join(sorted(port))}")

        # Pagination of list endpoints.
        _, page = api("GET", "dcim/sites/")
        check({"count", "next", "previous", "results"} <= set(page), "list envelope")
        _, page = api("GET", f"dcim/power-feeds/?rack_id={rack['id']}&limit=1")
        check(page["count"] == 1 and len(page["results"]) == 1, "filtered list")
        # Object types always outnumber one page: check the default page size and the `next` link.
        _, page = api("GET", "core/object-types/")
        check(page["count"] > len(page["results"]) == 50 and page["next"], "default page size 50 with a next link")
        _, page2 = api("GET", page["next"].split("/api/", 1)[1])
        check(page2["previous"] and page2["results"][0]["id"] != page["results"][0]["id"], "second page")
        print(f"ok  lists: keys {sorted(page)}; default page size {len(page['results'])} of {page['count']}; "
              f"next={page['next']!r}")
        ok = True
    except (ApiError, urllib.error.URLError, KeyError, TypeError, ValueError) as e:
        print(f"FAIL {e}", file=sys.stderr)
    finally:
        for endpoint, oid in reversed(created):
            try:
                status, _ = api("DELETE", f"{endpoint}/{oid}/")
                check(status == 204, f"DELETE {endpoint}/{oid} status {status}")
            except (ApiError, urllib.error.URLError) as e:
                # Deleting a device removes its instantiated components; a 404 there is fine.
                if "-> 404" not in str(e):
                    print(f"FAIL cleanup: {e}", file=sys.stderr)
                    ok = False
        if created:
            print(f"{'ok ' if ok else '   '} deleted {len(created)} objects")
    print("smoke: PASS" if ok else "smoke: FAIL", file=sys.stderr if not ok else sys.stdout)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
