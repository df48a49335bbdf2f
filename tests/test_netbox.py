"""The NetBox round trip against a real NetBox 4.7 (tools/netbox/netbox.sh; docs/netbox-dev.md).

A site is built through the REST API (two halls as locations, rows as rack groups, racks with A and B
feeds on panels with the rackplan custom fields, existing devices at positions), imported with
``rackplan netbox import``, planned with :func:`planner.api.run_plan`, exported with ``rackplan netbox
export``, and the devices are read back from NetBox.

NetBox is found through ``.netbox/env`` (``tools/netbox/netbox.sh up`` writes it). With
``RACKPLAN_NETBOX=1`` a NetBox that is not up is started (and stopped again at the end), and one that
cannot be reached is a failure, not a skip: that is how ``.ci/run`` runs these tests. Without it and
without a running NetBox, every test here is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from planner.cli import main
from planner.netbox.client import NetBoxClient, NetBoxError

ROOT = Path(__file__).resolve().parent.parent
NETBOX_SH = ROOT / "tools" / "netbox" / "netbox.sh"
pytestmark = pytest.mark.netbox


def _env_file() -> Path:
    state = Path(os.environ.get("NETBOX_STATE_DIR", ROOT / ".netbox"))
    return Path(os.environ.get("NETBOX_ENV_FILE", state / "env"))


def _read_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            out[k.strip()] = v.strip().strip("'\"")
    return out


def _answers(url: str, token: str) -> str | None:
    """None if NetBox answers with this token, else why not."""
    try:
        NetBoxClient(url, token, timeout=10).status()
        return None
    except NetBoxError as exc:
        return str(exc)


@pytest.fixture(scope="session")
def netbox() -> tuple[str, str]:
    """(URL, TOKEN) of a running NetBox, started when ``RACKPLAN_NETBOX=1``; else the tests skip."""
    required = os.environ.get("RACKPLAN_NETBOX") == "1"
    env = _env_file()
    started = False
    if required and (not env.exists() or _answers(**{k.lower(): v for k, v in _read_env(env).items()
                                                     if k in ("URL", "TOKEN")}) is not None):
        subprocess.run([str(NETBOX_SH), "up"], check=True, timeout=3600, stdout=subprocess.DEVNULL)
        started = True
    if not env.exists():
        pytest.skip(f"NetBox is not up (no {env}); run `tools/netbox/netbox.sh up` or set RACKPLAN_NETBOX=1")
    values = _read_env(env)
    url, token = values.get("URL", ""), values.get("TOKEN", "")
    why = _answers(url, token)
    if why is not None:
        if required:
            pytest.fail(f"RACKPLAN_NETBOX=1 but NetBox does not answer: {why}")
        pytest.skip(f"NetBox in {env} does not answer ({why}); run `tools/netbox/netbox.sh up`")
    yield url, token
    if started and os.environ.get("RACKPLAN_NETBOX_KEEP") != "1":
        subprocess.run([str(NETBOX_SH), "down"], check=False, timeout=120, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def client(netbox: tuple[str, str]) -> NetBoxClient:
    from planner.netbox.fields import ensure_custom_fields

    c = NetBoxClient(*netbox)
    ensure_custom_fields(c)
    return c


# --- a site built through the API --------------------------------------------------------------------

class Site:
    """A test site: every object created through the REST API, named with a unique suffix."""

    def __init__(self, client: NetBoxClient, tag: str | None = None):
        self.c = client
        self.tag = tag or uuid.uuid4().hex[:8]
        self.slug = f"rp-{self.tag}"
        self.site = client.create("dcim/sites/", {"name": f"rackplan test {self.tag}", "slug": self.slug,
                                                  "status": "active"})
        self.racks: dict[str, dict] = {}
        self.devices: dict[str, dict] = {}

    def location(self, name: str, **cf: Any) -> dict:
        return self.c.create("dcim/locations/", {"name": name, "slug": f"{name.lower().replace(' ', '-')}-{self.tag}",
                                                 "site": self.site["id"], "custom_fields": cf})

    def group(self, name: str, **cf: Any) -> dict:
        # rack groups are global in NetBox: unique names per test site
        return self.c.create("dcim/rack-groups/", {"name": f"{name} {self.tag}", "slug": f"{name.lower().replace(' ', '-')}-{self.tag}",
                                                   "custom_fields": cf})

    def panel(self, name: str, **cf: Any) -> dict:
        return self.c.create("dcim/power-panels/", {"name": name, "site": self.site["id"], "custom_fields": cf})

    def rack(self, name: str, location: dict | None, group: dict | None, *, u: int = 42, cooling: str | None = "air-only",
             capacity: float | None = 35, max_weight: int | None = 1400, feeds: list[dict] | None = None,
             **extra: Any) -> dict:
        body: dict[str, Any] = {"name": name, "site": self.site["id"], "status": "active", "u_height": u, "width": 19,
                                "cooling_capability": cooling, "cooling_capacity": capacity}
        if location:
            body["location"] = location["id"]
        if group:
            body["group"] = group["id"]
        if max_weight:
            body |= {"max_weight": max_weight, "weight_unit": "kg"}
        body |= extra
        rack = self.c.create("dcim/racks/", body)
        self.racks[name] = rack
        for i, f in enumerate(feeds or []):
            self.feed(rack, f"{name}-{'AB'[i % 2]}{i // 2 + 1}", **f)
        return rack

    def feed(self, rack: dict, name: str, *, panel: dict, type: str = "primary", voltage: int | None = 415,
             amperage: int | None = 63, phase: str = "three-phase", max_utilization: int = 80) -> dict:
        body = {"name": name, "power_panel": panel["id"], "rack": rack["id"], "status": "active", "type": type,
                "supply": "ac", "phase": phase, "voltage": voltage, "amperage": amperage,
                "max_utilization": max_utilization}
        return self.c.create("dcim/power-feeds/", body)

    def device_type(self, model: str, u: float, ports: list[tuple[int | None, int | None]], weight: float | None = 30,
                    **extra: Any) -> dict:
        mfr = self._manufacturer()
        body = {"manufacturer": mfr["id"], "model": f"{model} {self.tag}", "slug": f"{model}-{self.tag}".lower(),
                "u_height": u, **extra}
        if weight is not None:
            body |= {"weight": weight, "weight_unit": "kg"}
        dt = self.c.create("dcim/device-types/", body)
        for i, (maximum, allocated) in enumerate(ports, 1):
            self.c.create("dcim/power-port-templates/", {"device_type": dt["id"], "name": f"PSU{i}",
                                                         "maximum_draw": maximum, "allocated_draw": allocated})
        return dt

    def _manufacturer(self) -> dict:
        if not hasattr(self, "_mfr"):
            self._mfr = self.c.create("dcim/manufacturers/", {"name": f"Test {self.tag}", "slug": f"test-{self.tag}"})
            self._role = self.c.create("dcim/device-roles/", {"name": f"server {self.tag}", "slug": f"server-{self.tag}"})
        return self._mfr

    def device(self, name: str, dtype: dict, rack: dict, position: float | None, face: str = "front") -> dict:
        self._manufacturer()
        body = {"name": name, "device_type": dtype["id"], "role": self._role["id"], "site": self.site["id"],
                "rack": rack["id"], "status": "active"}
        if rack.get("location"):
            body["location"] = rack["location"]["id"]
        if position is not None:
            body |= {"position": position, "face": face}
        dev = self.c.create("dcim/devices/", body)
        self.devices[name] = dev
        return dev


def build_site(c: NetBoxClient) -> Site:
    """Two halls: hall 1 with rows A (4 air racks) and B (2 hybrid racks), 2N on panels PP-A/PP-B from
    UPS-1/UPS-2; hall 2 without cooling fields, racks C01-C03 without a rack group (C03 reserved).
    Existing devices:
    A01 a 2U server at U1, A02 a 4U at U10 and a 1U at U20 (a gap), C01 a 1U without position and a
    0U PDU."""
    s = Site(c)
    h1 = s.location("Hall 1", rackplan_cooling_units=4, rackplan_cooling_unit_kw=300, rackplan_cooling_redundant=1)
    h2 = s.location("Hall 2")
    ra, rb = s.group("Row A", rackplan_cooling_kw=400), s.group("Row B")
    s.panel("UPS-1", rackplan_kw=600)
    s.panel("UPS-2", rackplan_kw=600)
    pa = s.panel("PP-A", rackplan_kw=300, rackplan_source="UPS-1")
    pb = s.panel("PP-B", rackplan_kw=300, rackplan_source="UPS-2")
    ab = [{"panel": pa, "type": "primary"}, {"panel": pb, "type": "redundant"}]
    for i in range(1, 5):
        s.rack(f"A{i:02d}", h1, ra, feeds=ab)
    for i in range(1, 3):
        s.rack(f"B{i:02d}", h1, rb, cooling="hybrid", capacity=90, u=48, max_weight=1800, feeds=ab,
               custom_fields={"rackplan_liquid_kw": 70})
    c208 = [{"panel": pa, "type": "primary", "voltage": 208, "amperage": 30, "phase": "single-phase"},
            {"panel": pb, "type": "redundant", "voltage": 208, "amperage": 30, "phase": "single-phase"}]
    for i in range(1, 4):
        s.rack(f"C{i:02d}", h2, None, cooling="air-only", capacity=8, feeds=c208,
               status="reserved" if i == 3 else "active")
    srv2 = s.device_type("srv-2u", 2, [(1000, 800), (1000, 800)], weight=25)
    srv4 = s.device_type("srv-4u", 4, [(2000, None), (2000, None)], weight=60)
    sw1 = s.device_type("sw-1u", 1, [(300, 150)], weight=8)
    pdu = s.device_type("pdu-0u", 0, [(None, None)], weight=10)
    c.create("dcim/power-outlet-templates/", {"device_type": pdu["id"], "name": "O1"})
    s.device("a01-srv", srv2, s.racks["A01"], 1)
    s.device("a02-srv", srv4, s.racks["A02"], 10)
    s.device("a02-sw", sw1, s.racks["A02"], 20)
    s.device("c01-sw", sw1, s.racks["C01"], None)
    s.device("c01-pdu", pdu, s.racks["C01"], None)
    return s


def run_cli(*args: str, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- the tests -------------------------------------------------------------------------------------

def _import(c: NetBoxClient, slug: str, out: Path, capsys, *extra: str) -> tuple[int, str, str]:
    return run_cli("netbox", "import", "--url", c.url, "--token", c.token, "--site", slug, "-o", str(out), *extra,
                   capsys=capsys)


def _export(c: NetBoxClient, plan: Path, capsys, *extra: str) -> tuple[int, str, str]:
    return run_cli("netbox", "export", str(plan), "--url", c.url, "--token", c.token, *extra, capsys=capsys)


def _changelog(c: NetBoxClient) -> int:
    """How many changes NetBox has recorded (every create, update and delete adds one)."""
    return c.get("core/object-changes/", limit=1)["count"]


def _plan(facility: Path, out: Path, **demand: Any) -> Path:
    from planner.api import run_plan, write_plan
    from planner.inputs.demand import from_cli
    from planner.inputs.facility import load_facility
    from planner.inputs.specs import load_catalogue

    cat = load_catalogue()
    run = run_plan(load_facility(facility), cat, from_cli(cat, **demand), time_limit=60)
    write_plan(run, out)
    return out / "plan.json"


def _units(c: NetBoxClient, devices: list[dict]) -> dict[int, dict[int, str]]:
    """rack id -> NetBox unit -> the device in it."""
    types = {t["id"]: t for t in c.list_ids("dcim/device-types/", [d["device_type"]["id"] for d in devices])}
    out: dict[int, dict[int, str]] = {}
    for d in devices:
        h = float(types[d["device_type"]["id"]]["u_height"])
        if d.get("position") is None or h == 0:
            continue
        for u in range(int(float(d["position"])), int(float(d["position"]) + h)):
            assert u not in out.get(d["rack"]["id"], {}), f"{d['name']} overlaps {out[d['rack']['id']][u]}"
            out.setdefault(d["rack"]["id"], {})[u] = d["name"]
    return out


@pytest.fixture
def site(client) -> Site:
    return build_site(client)


def test_import_maps_the_site(client, site, tmp_path, capsys):
    from planner.inputs.facility import load_facility

    out = tmp_path / "site.yaml"
    code, stdout, err = _import(client, site.slug, out, capsys)
    assert code == 0, err
    assert "wrote" in stdout and (tmp_path / "site.netbox.json").exists()
    fac = load_facility(out).facility  # the written file validates
    t = site.tag
    assert [h.name for h in fac.halls] == ["Hall-1", "Hall-2"]
    h1, h2 = fac.halls
    assert [(r.name, r.racks) for r in h1.rows] == [(f"Row-A-{t}", 4), (f"Row-B-{t}", 2)]
    assert h1.rows[0].cooling_kw == 400 and h1.rows[0].panels == ["PP-A", "PP-B"]
    assert (h1.cooling_units.count, h1.cooling_units.unit_kw, h1.cooling_units.redundant) == (4, 300, 1)
    assert [(r.name, r.racks) for r in h2.rows] == [("C", 3)]  # no rack group: the naming rule
    assert fac.reserved == ["Hall-2/C/03"]  # NetBox rack status reserved
    # racks that differ only in name share a rack type
    a = fac.rack_types[h1.rows[0].rack_type]
    assert len({r.rack_type for h in fac.halls for r in h.rows}) == 3
    assert (a.u, a.cooling, a.air_kw, a.liquid_kw, a.feeds, a.power_redundancy) == (42, "air", 35, 0, 1, "2N")
    assert (a.feed.volts, a.feed.phases, a.feed.amps, fac.site.derate) == (415, 3, 63, 0.8)
    b = fac.rack_types[h1.rows[1].rack_type]
    assert (b.cooling, b.air_kw, b.liquid_kw, b.u, b.max_weight_kg) == ("dlc", 20, 70, 48, 1800)
    c = fac.rack_types[h2.rows[0].rack_type]
    assert (c.feed.volts, c.feed.phases, c.feed.amps) == (208, 1, 30)
    assert {n: (p.source, p.kw) for n, p in fac.power.panels.items()} == {"PP-A": ("UPS-1", 300), "PP-B": ("UPS-2", 300)}
    assert {n: s.kw for n, s in fac.power.sources.items()} == {"UPS-1": 600, "UPS-2": 600}
    ex: dict[str, list] = {}
    for e in fac.existing:  # one entry per positioned device, one for those without a position
        ex.setdefault(e.rack, []).append(e)
    a01, a02, c01 = ex[f"Hall-1/Row-A-{t}/01"], ex[f"Hall-1/Row-A-{t}/02"], ex["Hall-2/C/01"]
    assert [(e.kw, e.u, e.position, e.weight_kg) for e in a01] == [(1.6, 2, 1, 25)]  # 2 x 800 W allocated_draw
    assert "allocated_draw" in a01[0].description
    # a 4U at U10 (2 x 2000 W maximum_draw, no allocated_draw) and a 1U at U20 (150 W allocated): two
    # entries, and the free units 14-19 between them stay free
    assert [(e.kw, e.u, e.position, e.weight_kg) for e in a02] == [(4.0, 4, 10, 60), (0.15, 1, 20, 8)]
    assert "maximum_draw" in a02[0].description
    # a 1U without position and a 0U PDU (its outlets' load is the devices'): 150 W, no position
    assert [(e.kw, e.u, e.position, e.weight_kg) for e in c01] == [(0.15, 1, None, 18)]
    warnings = [line for line in err.splitlines() if "warning:" in line]
    assert any("location 'Hall 2'" in w and "never limits" in w for w in warnings)
    mapping = json.loads((tmp_path / "site.netbox.json").read_text())
    assert mapping["racks"][f"Hall-1/Row-A-{t}/02"]["id"] == site.racks["A02"]["id"]
    assert {r["name"] for r in mapping["racks"].values()} == set(site.racks)


def test_import_follows_pagination(client, site, tmp_path, capsys):
    code, _, err = _import(client, site.slug, tmp_path / "paged.yaml", capsys, "--page-size", "2")
    assert code == 0, err
    code, _, err = _import(client, site.slug, tmp_path / "whole.yaml", capsys)
    assert code == 0, err

    def body(name: str) -> str:
        return "\n".join(line for line in (tmp_path / name).read_text().splitlines() if not line.startswith("# Imported"))

    assert body("paged.yaml") == body("whole.yaml")
    # nine racks in pages of two: five pages, each followed through `next`
    paged = NetBoxClient(client.url, client.token, page_size=2)
    racks = paged.list("dcim/racks/", site_id=site.site["id"])
    assert len(racks) == 9 and paged.requests == 5


def test_round_trip(client, site, tmp_path, capsys):
    """Import, plan, export: the devices are in NetBox at the plan's positions, overlap no existing
    device, and a second export changes nothing."""
    fac = tmp_path / "site.yaml"
    assert _import(client, site.slug, fac, capsys)[0] == 0
    plan_file = _plan(fac, tmp_path / "plan", fill="b200-8x-air")
    plan = json.loads(plan_file.read_text())
    mapping = json.loads((tmp_path / "site.netbox.json").read_text())
    before = _changelog(client)
    code, out, err = _export(client, plan_file, capsys, "--dry-run")
    assert code == 0, err
    assert "dry run, nothing written" in out and _changelog(client) == before
    code, out, err = _export(client, plan_file, capsys)
    assert code == 0, err
    tag = "rackplan-" + __import__("hashlib").sha256(plan_file.read_bytes()).hexdigest()[:12]
    mine = client.list("dcim/devices/", tag=tag)
    want = [(mapping["racks"][r["id"]]["id"], p["u"], p["node"]) for r in plan["racks"] for p in r["positions"]]
    assert sorted((d["rack"]["id"], int(float(d["position"])), d["device_type"]["slug"]) for d in mine) == sorted(want)
    assert {d["status"]["value"] for d in mine} == {"planned"} and {d["face"]["value"] for d in mine} == {"front"}
    # in the racks with existing devices, no unit is taken twice (checked unit by unit)
    everything = client.list("dcim/devices/", site_id=site.site["id"])
    taken = _units(client, everything)
    for name in ("A01", "A02"):
        assert any(n.startswith("b200") for n in taken[site.racks[name]["id"]].values())
    # the device type created has power ports that add up to the node's max power
    dt = client.list("dcim/device-types/", slug="b200-8x-air")[0]
    ports = client.list("dcim/power-port-templates/", device_type_id=dt["id"])
    assert sum(p["maximum_draw"] for p in ports) == round(plan["node_types"]["b200-8x-air"]["max_kw"] * 1000)
    assert float(dt["u_height"]) == plan["node_types"]["b200-8x-air"]["u"]
    # a second export changes nothing
    after = _changelog(client)
    code, out, err = _export(client, plan_file, capsys)
    assert code == 0, err
    assert "nothing to change" in out and _changelog(client) == after
    # a device someone moved is put back (an update, not a duplicate)
    moved = mine[0]
    client.update("dcim/devices/", [{"id": moved["id"], "status": "active"}])
    code, out, err = _export(client, plan_file, capsys)
    assert code == 0 and "updated 1" in out, out + err
    assert len(client.list("dcim/devices/", tag=tag)) == len(mine)
    assert client.get(f"dcim/devices/{moved['id']}/")["status"]["value"] == "planned"
    # importing again counts the planned devices as existing load
    assert _import(client, site.slug, tmp_path / "again.yaml", capsys)[0] == 0
    from planner.inputs.facility import load_facility

    again = load_facility(tmp_path / "again.yaml").facility
    assert len(again.existing) >= len({r["id"] for r in plan["racks"]})


def test_export_as_reservations(client, site, tmp_path, capsys):
    fac = tmp_path / "site.yaml"
    assert _import(client, site.slug, fac, capsys)[0] == 0
    plan_file = _plan(fac, tmp_path / "plan", nodes="b200-8x-air=3")
    plan = json.loads(plan_file.read_text())
    mapping = json.loads((tmp_path / "site.netbox.json").read_text())
    code, out, err = _export(client, plan_file, capsys, "--as", "reservations")
    assert code == 0, err
    resv = client.list("dcim/rack-reservations/", site_id=site.site["id"])
    want = {}
    for r in plan["racks"]:
        want[mapping["racks"][r["id"]]["id"]] = sorted(u for p in r["positions"] for u in range(p["u"], p["u"] + 10))
    assert {x["rack"]["id"]: sorted(x["units"]) for x in resv} == want
    assert {x["user"]["username"] for x in resv} == {"admin"}
    n = _changelog(client)
    code, out, err = _export(client, plan_file, capsys, "--as", "reservations")
    assert code == 0 and "nothing to change" in out and _changelog(client) == n


def test_import_after_export_as_devices_then_reservations(client, site, tmp_path, capsys):
    """The documented sequence (devices, then ``--as reservations``) leaves reservations over the planned
    devices, which NetBox allows: the import counts those units once, as the devices', with a warning."""
    fac = tmp_path / "site.yaml"
    assert _import(client, site.slug, fac, capsys)[0] == 0
    plan_file = _plan(fac, tmp_path / "plan", nodes="b200-8x-air=2")
    for extra in ((), ("--as", "reservations")):
        code, out, err = _export(client, plan_file, capsys, *extra)
        assert code == 0, err
    code, _, err = _import(client, site.slug, tmp_path / "again.yaml", capsys)
    assert code == 0, err
    overlaps = [line for line in err.splitlines() if "are taken by device 'b200-8x-air " in line]
    assert len(overlaps) == len(json.loads(plan_file.read_text())["racks"]), err
    assert all("the reservation adds nothing" in line for line in overlaps)


def test_export_undoes_everything_on_an_api_error(client, site, tmp_path, capsys):
    """NetBox refuses the devices (someone put a device in a planned unit after the check): the tag,
    role, manufacturer and device type created before are removed again."""
    from planner.netbox import exporter

    fac = tmp_path / "site.yaml"
    assert _import(client, site.slug, fac, capsys)[0] == 0
    plan_file = _plan(fac, tmp_path / "plan", nodes="b200-8x-air=2")
    # a node id of its own, so that its device type is created by this export
    node = f"b200-{site.tag}"
    text = plan_file.read_text().replace('"b200-8x-air"', f'"{node}"')
    plan_file.write_text(text)
    job = exporter.ExportJob.build(json.loads(text), str(plan_file), role=f"gpu-{site.tag}")
    changes = exporter.prepare(client, job)
    assert {c.endpoint for c in changes.support} >= {"extras/tags/", "dcim/device-roles/", "dcim/device-types/"}
    first = job.nodes[0]
    blocker = site.device_type("blocker", 1, [(100, None)])
    site.device("blocker", blocker, client.get(f"dcim/racks/{first.rack['id']}/"), first.position)
    before = _changelog(client)
    with pytest.raises(NetBoxError) as exc:
        exporter.apply(client, changes)
    assert "nothing was kept" in str(exc.value)
    assert client.list("extras/tags/", slug=job.tag["slug"]) == []
    assert client.list("dcim/device-roles/", slug=job.role) == []
    assert client.list("dcim/device-types/", slug=job.type_slug(first.node)) == []
    assert client.list("dcim/devices/", site_id=site.site["id"], status="planned") == []
    assert _changelog(client) > before  # created, then deleted again


# --- bad answers: one line, exit 2, nothing written ----------------------------------------------------

def test_wrong_token_and_unreachable_url(client, site, tmp_path, capsys):
    out = tmp_path / "x.yaml"
    code, _, err = run_cli("netbox", "import", "--url", client.url, "--token", "nbt_AAAAAAAAAAAA.wrong", "--site",
                           site.slug, "-o", str(out), capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "refused" in err and "--token" in err
    code, _, err = run_cli("netbox", "import", "--url", "http://127.0.0.1:9", "--token", client.token, "--site",
                           site.slug, "-o", str(out), capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot reach NetBox" in err
    assert not out.exists() and not (tmp_path / "x.netbox.json").exists()


def test_rack_without_feeds(client, tmp_path, capsys):
    s = Site(client)
    loc = s.location("Hall 1")
    s.rack("R01", loc, None, feeds=None)
    out = tmp_path / "x.yaml"
    code, _, err = _import(client, s.slug, out, capsys)
    assert code == 2 and not out.exists()
    assert err.strip().splitlines() == [f"rackplan: {client.url}: rack 'R01' (id {s.racks['R01']['id']}): has no power "
                                        "feeds; give it its feeds in NetBox (dcim/power-feeds with rack set), or set "
                                        "its status to deprecated to leave it out"]


def test_device_type_without_power_ports(client, site, tmp_path, capsys):
    fac = tmp_path / "site.yaml"
    assert _import(client, site.slug, fac, capsys)[0] == 0
    plan_file = _plan(fac, tmp_path / "plan", nodes="b200-8x-air=1")
    bare = site.device_type("bare-10u", 10, [])
    before = _changelog(client)
    code, _, err = _export(client, plan_file, capsys, "--device-type", f"b200-8x-air={bare['slug']}")
    assert code == 2 and "has no power ports" in err and len(err.strip().splitlines()) == 1
    assert _changelog(client) == before


# --- --csv: the files go through NetBox's own bulk import ----------------------------------------------

IMPORT_SCRIPT = r"""
import json, os
from django.test import Client
from django.test.utils import setup_test_environment
from users.models import User
setup_test_environment()
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(User.objects.get(username="admin"))
report = []
for url, fmt, data in json.load(open(os.environ["RACKPLAN_IMPORT_STEPS"])):
    r = client.post(url, {"import_method": "direct", "data": data, "format": fmt, "csv_delimiter": ","})
    errors = []
    if r.status_code != 302:
        form = r.context["form"] if r.context and "form" in r.context else None
        errors = [str(e) for e in form.non_field_errors()] + [f"{k}: {v}" for k, v in form.errors.items()] if form else [r.content.decode()[:300]]
    report.append({"url": url, "status": r.status_code, "errors": errors})
print("REPORT " + json.dumps(report))
"""


def _bulk_import(steps: list[list[str]], tmp_path: Path) -> None:
    """Run NetBox's own bulk import views on ``steps`` ([url, format, text], in order; IMPORT_SCRIPT)
    inside NetBox, and assert that every step imported without errors."""
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    run = subprocess.run([str(NETBOX_SH), "manage", "shell", "--no-imports", "-c", IMPORT_SCRIPT],
                         env={**os.environ, "RACKPLAN_IMPORT_STEPS": str(tmp_path / "steps.json")},
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.split("REPORT ", 1)[1])
    assert [r["errors"] for r in report] == [[]] * len(report), report


def test_csv_files_import_into_netbox(client, site, tmp_path, capsys):
    """``--csv DIR`` writes files that NetBox's own bulk import (the web UI's, driven here through
    Django's test client in ``netbox shell``) accepts; the devices land at the plan's positions."""
    fac = tmp_path / "site.yaml"
    assert _import(client, site.slug, fac, capsys)[0] == 0
    plan_file = _plan(fac, tmp_path / "plan", nodes="b200-8x-air=3")
    node = f"b200-csv-{site.tag}"  # a device type this NetBox does not have yet
    plan_file.write_text(plan_file.read_text().replace('"b200-8x-air"', f'"{node}"'))
    out = tmp_path / "csv"
    code, stdout, err = run_cli("netbox", "export", str(plan_file), "--csv", str(out), "--role", f"gpu-{site.tag}",
                                capsys=capsys)
    assert code == 0, err
    readme = (out / "README.txt").read_text()
    order = [line.split(". ", 1)[1] for line in readme.splitlines() if line.startswith("  ") and ". " in line]
    assert order[-1] == "devices.csv" and f"device-types/{node}.yaml" in order
    urls = {"tags.csv": "/extras/tags/import/", "manufacturers.csv": "/dcim/manufacturers/import/",
            "device-roles.csv": "/dcim/device-roles/import/", "devices.csv": "/dcim/devices/import/"}
    have_mfr = bool(client.list("dcim/manufacturers/", slug="rackplan"))
    steps = []
    for name in order:
        if name == "manufacturers.csv" and have_mfr:
            continue  # an earlier test's export created it
        fmt = "yaml" if name.endswith(".yaml") else "csv"
        steps.append([urls.get(name, "/dcim/device-types/import/"), fmt, (out / name).read_text()])
    _bulk_import(steps, tmp_path)
    plan = json.loads(plan_file.read_text())
    mapping = json.loads((tmp_path / "site.netbox.json").read_text())
    tag = "rackplan-" + __import__("hashlib").sha256(plan_file.read_bytes()).hexdigest()[:12]
    got = sorted((d["rack"]["id"], int(float(d["position"])), d["status"]["value"], d["device_type"]["slug"])
                 for d in client.list("dcim/devices/", tag=tag))
    want = sorted((mapping["racks"][r["id"]]["id"], p["u"], "planned", node) for r in plan["racks"] for p in r["positions"])
    assert got == want
    dt = client.list("dcim/device-types/", slug=node)[0]
    ports = client.list("dcim/power-port-templates/", device_type_id=dt["id"])
    assert sum(p["maximum_draw"] for p in ports) == round(plan["node_types"][node]["max_kw"] * 1000)
    # the API export of the same plan finds everything in place
    code, stdout, err = _export(client, plan_file, capsys, "--role", f"gpu-{site.tag}")
    assert code == 0 and "nothing to change" in stdout, stdout + err


def test_csv_reservations_arrive_without_their_tag(client, site, tmp_path, capsys):
    """NetBox's bulk import does not save tags on rack reservations (what README.txt of ``--csv --as
    reservations`` warns about); if this fails, NetBox now does, and the note can go."""
    fac = tmp_path / "site.yaml"
    assert _import(client, site.slug, fac, capsys)[0] == 0
    plan_file = _plan(fac, tmp_path / "plan", nodes="b200-8x-air=1")
    out = tmp_path / "csv"
    code, _, err = run_cli("netbox", "export", str(plan_file), "--csv", str(out), "--as", "reservations",
                           capsys=capsys)
    assert code == 0, err
    assert "does not save tags on rack reservations" in (out / "README.txt").read_text()
    steps = [["/extras/tags/import/", "csv", (out / "tags.csv").read_text()],
             ["/dcim/rack-reservations/import/", "csv", (out / "rack-reservations.csv").read_text()]]
    _bulk_import(steps, tmp_path)
    resv = client.list("dcim/rack-reservations/", site_id=site.site["id"])
    assert len(resv) == 1 and resv[0]["tags"] == []


def test_fields_command_is_idempotent(client, capsys):
    code, out, err = run_cli("netbox", "fields", "--url", client.url, "--token", client.token, capsys=capsys)
    assert code == 0 and "custom fields: all present" in out, out + err
    from planner.netbox.fields import FIELDS

    have = {f["name"]: f["object_types"] for f in client.list("extras/custom-fields/")}
    assert all(f.object_type in have[f.name] for f in FIELDS)
