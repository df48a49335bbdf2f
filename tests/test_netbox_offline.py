"""The NetBox round trip's parts that need no NetBox: the client against canned answers (what a real
NetBox 4.7 cannot be made to send: a feed without amperage, a count that does not match its pages,
an answer that is not JSON), the naming and unit rules, devicetype-library files as node profiles,
export jobs and the bulk-import files. tests/test_netbox.py runs the real thing."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from planner.cli import main
from planner.errors import InputError
from planner.netbox.client import NetBoxClient, NetBoxError
from planner.netbox.importer import _to_rackplan, import_site, natural_key, row_from_name, safe_name, to_netbox

ROOT = Path(__file__).resolve().parent.parent


class Canned:
    """A stand-in for NetBox's list endpoints: ``data[path] = [objects]``, paginated by limit/offset,
    with ``next`` links on another host (as behind a proxy)."""

    def __init__(self) -> None:
        self.data: dict[str, list[dict[str, Any]]] = {}
        self.count_bonus = 0
        self.raw: dict[str, tuple[int, str, bytes]] = {}
        self.seen: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                parts = urllib.parse.urlsplit(self.path)
                outer.seen.append(self.path)
                path = parts.path.removeprefix("/api/")
                if path in outer.raw:
                    code, ctype, body = outer.raw[path]
                    self._send(code, ctype, body)
                    return
                if self.headers.get("Authorization") != "Bearer nbt_key.secret":
                    self._send(403, "application/json", b'{"detail": "Invalid v2 token"}')
                    return
                if path == "status/":
                    self._send(200, "application/json", b'{"netbox-version": "4.7.3"}')
                    return
                q = urllib.parse.parse_qs(parts.query)
                items = outer.data.get(path, [])
                for key, vals in q.items():
                    if key in ("limit", "offset"):
                        continue
                    field = key.removesuffix("_id")
                    items = [o for o in items if str((o.get(field) or {}).get("id") if isinstance(o.get(field), dict)
                                                     else o.get(field)) in vals]
                limit, offset = int(q.get("limit", ["50"])[0]), int(q.get("offset", ["0"])[0])
                page = items[offset:offset + limit]
                nxt = None
                if offset + limit < len(items):
                    rest = {k: v for k, v in q.items() if k != "offset"} | {"offset": [str(offset + limit)]}
                    nxt = f"http://netbox.behind-a-proxy:8080{parts.path}?{urllib.parse.urlencode(rest, doseq=True)}"
                body = {"count": len(items) + outer.count_bonus, "next": nxt, "previous": None, "results": page}
                self._send(200, "application/json", json.dumps(body).encode())

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def client(self, **kw: Any) -> NetBoxClient:
        return NetBoxClient(self.url, "nbt_key.secret", **kw)


@pytest.fixture
def canned():
    c = Canned()
    yield c
    c.server.shutdown()


def _site(canned: Canned, amperage: Any = 32, feeds: bool = True) -> None:
    ref = lambda i, **kw: {"id": i, **kw}  # noqa: E731
    canned.data = {
        "dcim/sites/": [{"id": 1, "slug": "dc1", "name": "DC 1"}],
        "dcim/racks/": [{"id": 10, "name": "A01", "site": ref(1), "status": {"value": "active"}, "u_height": 42,
                         "width": {"value": 19}, "cooling_capability": {"value": "air-only"}, "cooling_capacity": 20,
                         "max_weight": 1000, "weight_unit": {"value": "kg"}, "location": None, "group": None}],
        "dcim/power-feeds/": [{"id": 100, "name": "A01-A", "rack": ref(10), "site": ref(1), "power_panel": ref(5),
                               "voltage": 230, "amperage": amperage, "phase": {"value": "single-phase"},
                               "max_utilization": 80, "type": {"value": "primary"}, "supply": {"value": "ac"}}]
        if feeds else [],
        "dcim/power-panels/": [{"id": 5, "name": "PP-1", "site": ref(1)}],
        "dcim/locations/": [], "dcim/devices/": [], "dcim/power-ports/": [], "dcim/rack-reservations/": [],
    }


# --- the client ---------------------------------------------------------------------------------------

def test_list_follows_next_links_through_a_proxy(canned):
    canned.data["dcim/racks/"] = [{"id": i, "name": f"R{i}"} for i in range(1, 8)]
    c = canned.client(page_size=3)
    assert [r["id"] for r in c.list("dcim/racks/")] == list(range(1, 8))
    assert c.requests == 3  # 3 + 3 + 1, the `next` host rewritten to the URL we were given
    assert all(s.startswith("/api/dcim/racks/") for s in canned.seen)


def test_a_count_that_does_not_match_the_pages_is_an_error(canned):
    canned.data["dcim/racks/"] = [{"id": i} for i in range(5)]
    canned.count_bonus = 1  # NetBox announces 6, the pages hold 5
    with pytest.raises(NetBoxError, match=r"read 5 objects in 2 page\(s\), but NetBox counts 6"):
        canned.client(page_size=3).list("dcim/racks/")


def test_refused_token_not_json_and_unreachable(canned):
    with pytest.raises(NetBoxError, match="refused the request .*HTTP 403: Invalid v2 token.*check --token"):
        NetBoxClient(canned.url, "nbt_other.key").status()
    canned.raw["status/"] = (200, "text/html", b"<html>login</html>")
    with pytest.raises(NetBoxError, match="not JSON .*text/html.*is --url a NetBox"):
        canned.client().status()
    with pytest.raises(NetBoxError, match="cannot reach NetBox"):
        NetBoxClient("http://127.0.0.1:9", "nbt_key.secret", timeout=5).status()
    with pytest.raises(NetBoxError, match="expected http"):
        NetBoxClient("netbox.example.com", "x")


def test_v1_tokens_are_sent_as_token(canned):
    assert NetBoxClient(canned.url, "0123abcd" * 5)._auth().startswith("Token ")
    assert canned.client()._auth() == "Bearer nbt_key.secret"


# --- the importer on answers a real NetBox 4.7 does not give ----------------------------------------

def test_feed_without_amperage_is_bad_input(canned):
    _site(canned, amperage=None)
    with pytest.raises(InputError) as exc:
        import_site(canned.client(), "dc1")
    assert [str(p) for p in exc.value.problems] == [
        f"{canned.url}: power feed 'A01-A' (id 100): of rack 'A01' (id 10) has no amperage; set it in NetBox"]


def test_canned_site_imports(canned, tmp_path):
    _site(canned)
    out = import_site(canned.client(page_size=1), "dc1")
    fac = out.facility
    assert fac["rack_types"] == {"air-20kw-42u": {
        "u": 42, "cooling": "air", "air_kw": 20, "feed": {"volts": 230, "phases": 1, "amps": 32},
        "power_redundancy": "N", "max_weight_kg": 1000,
        "description": "NetBox racks with 1 x 230 V single-phase 32 A at 80% feed(s)"}}
    assert fac["halls"][0]["name"] == "dc1" and fac["halls"][0]["rows"][0]["name"] == "A"
    assert out.mapping["racks"] == {"dc1/A/01": {"id": 10, "name": "A01", "location": None, "location_name": None,
                                                 "u_height": 42, "starting_unit": 1, "desc_units": False}}
    assert any("rackplan_kw" in w for w in out.warnings)  # no power section, and it says so


def test_cli_import_writes_nothing_on_bad_answers(canned, tmp_path, capsys):
    _site(canned, feeds=False)
    out = tmp_path / "dc1.yaml"
    code = main(["netbox", "import", "--url", canned.url, "--token", "nbt_key.secret", "--site", "dc1", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "rack 'A01' (id 10): has no power feeds" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "dc1.netbox.json").exists()


def test_cli_import_counts_racks_with_existing_load_not_entries(canned, tmp_path, capsys):
    """Two rack reservations in one rack are two ``existing`` entries, and one rack with existing load."""
    _site(canned)
    canned.data["dcim/rack-reservations/"] = [
        {"id": k, "rack": {"id": 10}, "site": {"id": 1}, "units": units, "status": {"value": "active"}}
        for k, units in ((1, [1, 2]), (2, [10, 11]))]
    out = tmp_path / "dc1.yaml"
    code = main(["netbox", "import", "--url", canned.url, "--token", "nbt_key.secret", "--site", "dc1", "-o", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    assert stdout.startswith(f"wrote {out} (1 hall(s), 1 row(s), 1 racks, 1 with existing load, 1 rack type(s);"), stdout
    assert out.read_text(encoding="utf-8").count("rack: dc1/A/01") == 2


# --- rules ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,row", [("A07", "A"), ("R3-12", "R3"), ("hall1.row-b.04", "hall1.row-b"),
                                      ("07", "racks"), ("Cage", "Cage"), ("B 2", "B")])
def test_row_naming_rule(name, row):
    assert row_from_name(name) == row


def test_names_and_order():
    assert safe_name("Hall 1 / Cage #3", "x") == "Hall-1-Cage-3"
    assert safe_name("--", "fallback") == "fallback"
    assert sorted(["A10", "A2", "a1"], key=natural_key) == ["a1", "A2", "A10"]


@pytest.mark.parametrize("start,desc", [(1, False), (1, True), (5, False), (3, True)])
def test_unit_numbering_round_trips(start, desc):
    # rackplan counts from 1 at the bottom; NetBox from starting_unit, top-down when desc_units
    for low in range(1, 40):
        pos = to_netbox(low, 3, start, 42, desc)
        assert _to_rackplan(pos, pos + 2, start, 42, desc) == low
    assert to_netbox(1, 2, 1, 42, True) == 41  # the bottom two units of a top-down 42U rack are U41-U42


# --- devicetype-library files as node profiles -----------------------------------------------------------

DEVICETYPE = """\
manufacturer: Dell
model: PowerEdge XE9680
slug: dell-poweredge-xe9680
u_height: 6
is_full_depth: true
weight: 235.9
weight_unit: lb
power-ports:
  - name: PSU1
    type: iec-60320-c20
    maximum_draw: 2800
  - name: PSU2
    type: iec-60320-c20
    maximum_draw: 2800
rackplan:
  gpus: 8
  accelerator: h100
"""


def test_devicetype_file_is_a_node_profile(tmp_path):
    from planner.inputs.specs import load_catalogue, resolve

    f = tmp_path / "xe9680.yaml"
    f.write_text(DEVICETYPE)
    cat = load_catalogue([f])
    nt = resolve(cat, "dell-poweredge-xe9680")
    assert (nt.gpus, nt.u, nt.max_kw, nt.liquid_fraction, nt.accelerator) == (8, 6, 5.6, 0.0, "h100")
    assert nt.weight_kg == pytest.approx(107.0, abs=0.01)  # 235.9 lb
    assert "maximum_draw added up" in cat.nodes["dell-poweredge-xe9680"].power.max_kw.note
    f.write_text(DEVICETYPE + "  max_kw: 10.2\n  liquid_fraction: 0.3\n  id: xe9680\n")
    nt = resolve(load_catalogue([f]), "xe9680")
    assert (nt.max_kw, nt.liquid_fraction) == (10.2, 0.3)


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.split("rackplan:")[0], "needs a 'rackplan:' key"),
    (lambda t: t.replace("  gpus: 8\n", ""), "rackplan.gpus"),
    (lambda t: t.replace("accelerator: h100", "accelerator: h1000"), "unknown accelerator 'h1000'"),
    (lambda t: t.replace("    maximum_draw: 2800\n", ""), "every power port needs maximum_draw"),
    (lambda t: t.split("power-ports:")[0] + "rackplan:" + t.split("rackplan:")[1], "has no power ports"),
    (lambda t: t.replace("u_height: 6", "u_height: 0.5"), "whole number of rack units"),
])
def test_bad_devicetype_files(tmp_path, edit, message):
    from planner.inputs.specs import load_catalogue

    f = tmp_path / "x.yaml"
    f.write_text(edit(DEVICETYPE))
    with pytest.raises(InputError) as exc:
        load_catalogue([f])
    assert message in str(exc.value) and str(exc.value).startswith(str(f))


def test_rackplan_spec_files_still_load(tmp_path):
    from planner.inputs.specs import load_catalogue

    assert "b200-8x-air" in load_catalogue([]).nodes


# --- export jobs and the bulk-import files, no NetBox ------------------------------------------------------

@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """A plan of the bundled contract example, and a rack map as `netbox import` would write it."""
    from planner.api import run_plan, write_plan
    from planner.inputs.demand import from_cli
    from planner.inputs.facility import load_facility
    from planner.inputs.specs import load_catalogue

    d = tmp_path_factory.mktemp("planned")
    cat = load_catalogue()
    loaded = load_facility(ROOT / "facilities" / "contract-example.yaml")
    run = run_plan(loaded, cat, from_cli(cat, nodes="b200-8x-air=6"), time_limit=60)
    write_plan(run, d / "plan")
    racks = {}
    for i, rid in enumerate(loaded.facility.racks.frame["id"], 1):
        racks[rid] = {"id": i, "name": rid.replace("/", "-"), "location": 1, "location_name": "Hall 1",
                      "u_height": 48, "starting_unit": 1, "desc_units": i % 2 == 0}
    mapping = {"schema": "rackplan.netbox-map/1", "netbox": {"url": "http://x", "version": "4.7.3"},
               "site": {"id": 1, "slug": "dc1", "name": "DC 1"}, "imported_at": "now", "racks": racks}
    (d / "map.json").write_text(json.dumps(mapping))
    return d


def test_csv_without_netbox(planned, tmp_path, capsys):
    out = tmp_path / "csv"
    code = main(["netbox", "export", str(planned / "plan" / "plan.json"), "--map", str(planned / "map.json"),
                 "--csv", str(out)])
    assert code == 0, capsys.readouterr().err
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == ["README.txt", "device-roles.csv", "device-types/b200-8x-air.yaml", "devices.csv",
                     "manufacturers.csv", "tags.csv"]
    import csv

    rows = list(csv.DictReader((out / "devices.csv").open()))
    plan = json.loads((planned / "plan" / "plan.json").read_text())
    assert len(rows) == 6 and {r["status"] for r in rows} == {"planned"}
    mapping = json.loads((planned / "map.json").read_text())
    want = set()
    for r in plan["racks"]:
        m = mapping["racks"][r["id"]]
        for p in r["positions"]:
            want.add((m["name"], str(to_netbox(p["u"], 10, 1, 48, m["desc_units"]))))
    assert {(r["rack"], r["position"]) for r in rows} == want
    import yaml

    dt = yaml.safe_load((out / "device-types" / "b200-8x-air.yaml").read_text())
    assert sum(p["maximum_draw"] for p in dt["power-ports"]) == round(plan["node_types"]["b200-8x-air"]["max_kw"] * 1000)
    code = main(["netbox", "export", str(planned / "plan" / "plan.json"), "--map", str(planned / "map.json"),
                 "--csv", str(out), "--as", "reservations"])
    assert code == 0
    assert not (out / "device-types").exists() and not (out / "devices.csv").exists()  # no leftovers
    assert (out / "rack-reservations.csv").read_text().startswith("site,location,rack,units,status,description,tags")
    # NetBox's import view drops the tags of rack reservations: the README says what that means
    readme = (out / "README.txt").read_text()
    assert "does not save tags on rack reservations: these arrive without the tag rackplan-" in readme
    assert "sees them as not the plan's" in readme


def test_export_refuses_a_plan_whose_racks_are_not_in_the_map(planned, tmp_path, capsys):
    mapping = json.loads((planned / "map.json").read_text())
    plan = json.loads((planned / "plan" / "plan.json").read_text())
    gone = plan["racks"][0]["id"]
    del mapping["racks"][gone]
    (tmp_path / "map.json").write_text(json.dumps(mapping))
    code = main(["netbox", "export", str(planned / "plan" / "plan.json"), "--map", str(tmp_path / "map.json"),
                 "--csv", str(tmp_path / "csv")])
    err = capsys.readouterr().err
    assert code == 2 and f"rack '{gone}' is not in the rack map" in err and not (tmp_path / "csv").exists()


def test_export_without_a_map(planned, tmp_path, capsys):
    code = main(["netbox", "export", str(planned / "plan" / "plan.json"), "--csv", str(tmp_path / "csv")])
    err = capsys.readouterr().err
    assert code == 2 and "no rack map at" in err and "--map FILE" in err


@pytest.mark.parametrize("argv,message", [
    (["netbox"], "give an action: import, export or fields"),
    (["netbox", "import", "--site", "dc1", "--url", ""], "no NetBox URL"),
    (["netbox", "import", "--site", "dc1", "--url", "http://127.0.0.1:9", "--token", ""], "no API token"),
    (["netbox", "export", "x.json", "--device-type", "oops", "--csv", "d"], "no such file"),
])
def test_cli_usage(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("NETBOX_URL", raising=False)
    monkeypatch.delenv("NETBOX_TOKEN", raising=False)
    code = main(argv)
    assert code == 2 and message in capsys.readouterr().err


# --- the rack map belongs to the facility file the plan was made on -----------------------------------

def _map_with(planned: Path, tmp_path: Path, facility: dict | None) -> Path:
    mapping = json.loads((planned / "map.json").read_text())
    if facility is not None:
        mapping["facility"] = facility
    out = tmp_path / "dc.netbox.json"
    out.write_text(json.dumps(mapping))
    return out


def test_cli_import_records_the_facility_file_in_the_map(canned, tmp_path, capsys):
    import hashlib

    _site(canned)
    out = tmp_path / "dc1.yaml"
    assert main(["netbox", "import", "--url", canned.url, "--token", "nbt_key.secret", "--site", "dc1",
                 "-o", str(out)]) == 0
    mapping = json.loads((tmp_path / "dc1.netbox.json").read_text())
    assert mapping["facility"] == {"file": "dc1.yaml", "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}


def test_export_refuses_a_map_of_another_facility_file(planned, canned, tmp_path, capsys):
    """A re-import renumbers racks: a plan made on the earlier facility file must not be exported through
    the new map, and nothing is asked of NetBox."""
    the_map = _map_with(planned, tmp_path, {"file": "dc.yaml", "sha256": "0" * 64})
    plan = str(planned / "plan" / "plan.json")
    for extra in (["--csv", str(tmp_path / "csv")], ["--url", canned.url, "--token", "nbt_key.secret", "--dry-run"]):
        code = main(["netbox", "export", plan, "--map", str(the_map), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith(f"rackplan: {plan}: facility.sha256: the plan was made on a different facility file")
        assert f"than the rack map {the_map} describes (dc.yaml, sha256 000000000000...)" in err[0]
        assert "plan again on the imported facility" in err[0]
    assert not (tmp_path / "csv").exists() and canned.seen == []


def test_export_takes_a_map_of_the_same_or_an_edited_facility_file(planned, tmp_path, capsys):
    plan = json.loads((planned / "plan" / "plan.json").read_text())
    sha = plan["facility"]["sha256"]
    argv = ["netbox", "export", str(planned / "plan" / "plan.json"), "--csv", str(tmp_path / "csv"), "--map"]
    assert main(argv + [str(_map_with(planned, tmp_path, {"file": "dc.yaml", "sha256": sha}))]) == 0
    assert "warning" not in capsys.readouterr().err
    # the facility file beside the map was edited after the import, and the plan made on the edited file
    (tmp_path / "dc.yaml").write_bytes((ROOT / "facilities" / "contract-example.yaml").read_bytes())
    assert main(argv + [str(_map_with(planned, tmp_path, {"file": "dc.yaml", "sha256": "0" * 64}))]) == 0
    assert "dc.yaml was edited after the import that wrote the rack map" in capsys.readouterr().err
    # a map of an older rackplan, without its facility file: exported, with a warning
    assert main(argv + [str(_map_with(planned, tmp_path, None))]) == 0
    assert "does not record the facility file it was written with" in capsys.readouterr().err


def test_export_finds_the_map_of_a_facility_given_by_a_relative_path(planned, tmp_path, monkeypatch, capsys):
    """plan.json keeps the facility file as typed (``nbw/dc.yaml``) and its absolute path: the map is found
    from another directory too."""
    import hashlib

    (tmp_path / "nbw").mkdir()
    fac = tmp_path / "nbw" / "dc.yaml"
    fac.write_bytes((ROOT / "facilities" / "contract-example.yaml").read_bytes())
    _map_with(planned, tmp_path / "nbw", {"file": "dc.yaml", "sha256": hashlib.sha256(fac.read_bytes()).hexdigest()})
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "nbw/dc.yaml", "--nodes", "b200-8x-air=2", "-o", "nbw/plan5", "--time-limit", "30"]) == 0
    plan = json.loads((tmp_path / "nbw" / "plan5" / "plan.json").read_text())
    assert plan["facility"]["file"] == "nbw/dc.yaml" and plan["facility"]["path"] == str(fac)
    capsys.readouterr()
    monkeypatch.chdir(tmp_path / "nbw")
    assert main(["netbox", "export", "plan5/plan.json", "--csv", "csv1"]) == 0, capsys.readouterr().err
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    assert main(["netbox", "export", str(tmp_path / "nbw" / "plan5" / "plan.json"), "--csv", "csv2"]) == 0
    assert (other / "csv2" / "devices.csv").is_file()
    # nothing found: the message names every place looked at, and --map
    (tmp_path / "nbw" / "dc.netbox.json").unlink()
    assert main(["netbox", "export", str(tmp_path / "nbw" / "plan5" / "plan.json"), "--csv", "csv3"]) == 2
    err = capsys.readouterr().err
    assert (f"no rack map at nbw/dc.netbox.json, {tmp_path / 'nbw' / 'dc.netbox.json'}, "
            f"{tmp_path / 'nbw' / 'plan5' / 'dc.netbox.json'} (rackplan netbox import") in err
    assert "give --map FILE" in err and not (other / "csv3").exists()


# --- existing load ---------------------------------------------------------------------------------------

def _device(canned: Canned, did: int, name: str, position: float | None, draw: float = 2000, **dt: Any) -> None:
    """A device in rack A01 of :func:`_site`, of its own 8U device type, with one power port."""
    canned.data.setdefault("dcim/device-types/", []).append(
        {"id": did, "model": f"model-{did}", "u_height": 8, "weight": 50, "weight_unit": {"value": "kg"}, **dt})
    canned.data["dcim/devices/"].append({"id": did, "name": name, "site": {"id": 1}, "rack": {"id": 10},
                                         "device_type": {"id": did}, "position": position})
    canned.data["dcim/power-ports/"].append({"id": did, "name": "PSU1", "site": {"id": 1}, "device": {"id": did},
                                             "maximum_draw": draw})


def test_a_reservation_over_an_installed_device_is_counted_once(canned):
    """NetBox lets a reservation cover a device (an export as devices, then as reservations): the units are
    the device's load; the reservation's other units count as reserved; the import goes on."""
    _site(canned)
    _device(canned, 7, "gpu1", 3)
    canned.data["dcim/rack-reservations/"] = [
        {"id": 1, "rack": {"id": 10}, "site": {"id": 1}, "units": list(range(3, 11)), "status": {"value": "active"}},
        {"id": 2, "rack": {"id": 10}, "site": {"id": 1}, "units": list(range(9, 15)), "status": {"value": "active"}}]
    out = import_site(canned.client(), "dc1")
    existing = out.facility["existing"]
    assert [(e["u"], e["position"], e["kw"]) for e in existing] == [(8, 3, 2), (4, 11, 0)]
    assert ("rack reservation 1 in rack 'A01' (id 10) (units 3-10): units 3-10 are taken by device 'gpu1' (id 7), "
            "counted once as that; the reservation adds nothing") in out.warnings
    assert ("rack reservation 2 in rack 'A01' (id 10) (units 9-14): units 9-10 are taken by device 'gpu1' (id 7), "
            "counted once as that; units 11-14 counted as occupied units with no power") in out.warnings


def test_a_failed_import_shows_its_warnings_first_and_names_the_netbox_object(canned, tmp_path, capsys):
    """The warning that explains the failure (a liquid-cooled device type without rackplan_liquid_fraction)
    comes before the error, and the error names the device, not a line of the file that was not written."""
    _site(canned)
    canned.data["dcim/racks/"][0]["cooling_capability"] = {"value": "liquid-only"}
    _device(canned, 7, "gpu1", 3, cooling_method={"value": "liquid"})
    out = tmp_path / "dc-east.yaml"
    code = main(["netbox", "import", "--url", canned.url, "--token", "nbt_key.secret", "--site", "dc1", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists() and not (tmp_path / "dc-east.netbox.json").exists()
    cause = ("rackplan: warning: device 'gpu1' (id 7) in rack 'A01' (id 10): liquid-cooled device type without "
             "rackplan_liquid_fraction; its heat counted as air")
    assert cause in err and err.index(cause) < len(err) - 1
    assert err[-1] == (f"rackplan: {canned.url}: device 'gpu1' (id 7) in rack 'A01' (id 10): 2 kW of air heat exceeds "
                       "the rack's air_kw 0 (existing[0].kw of the facility it would write); the imported facility "
                       "would not validate, nothing written")
    assert "dc-east.yaml" not in "\n".join(err)


@pytest.mark.parametrize("rack_status,feed_status,warning", [
    ("planned", "active", "rack 'A01' (id 10): status planned; imported as a live rack (set it to deprecated to "
                          "leave it out)"),
    ("reserved", "active", "rack 'A01' (id 10): status reserved; imported and listed in the facility's reserved "
                           "(no plan places anything there)"),
    ("active", "offline", "power feed 'A01-A' (id 100) of rack 'A01' (id 10): status offline; counted as a live feed"),
    ("active", "planned", "power feed 'A01-A' (id 100) of rack 'A01' (id 10): status planned; counted as a live feed"),
])
def test_racks_and_feeds_that_are_not_active_are_imported_with_a_warning(canned, rack_status, feed_status, warning):
    _site(canned)
    canned.data["dcim/racks/"][0]["status"] = {"value": rack_status}
    canned.data["dcim/power-feeds/"][0]["status"] = {"value": feed_status}
    out = import_site(canned.client(), "dc1")
    assert warning in out.warnings
    assert out.facility["halls"][0]["rows"][0]["racks"] == 1
    assert [w for w in out.warnings if "status" in w] == [warning]


def test_active_racks_and_feeds_have_no_status_warning(canned):
    _site(canned)
    canned.data["dcim/power-feeds/"][0]["status"] = {"value": "active"}
    assert not [w for w in import_site(canned.client(), "dc1").warnings if "status" in w]


@pytest.mark.parametrize("rack_type, where", [
    (None, "give it one in NetBox"),
    ({"id": 3, "slug": "gpu-42u", "model": "GPU 42U"}, "give it one on its rack type 'gpu-42u', which NetBox copies onto "
                                                       "the rack"),
])
def test_a_rack_without_cooling_capacity_says_where_to_set_it(canned, rack_type, where):
    """A rack with a NetBox rack type takes its cooling fields from the type (NetBox resets them on the
    rack), so the warning sends the user there."""
    _site(canned)
    rack = canned.data["dcim/racks/"][0]
    rack["cooling_capacity"] = None
    rack["rack_type"] = rack_type
    with pytest.raises(InputError):  # its only rack not imported: nothing to plan
        import_site(canned.client(), "dc1")
    canned.data["dcim/racks/"].append(dict(rack, id=11, name="A02", cooling_capacity=20, rack_type=None))
    feed = canned.data["dcim/power-feeds/"][0]
    canned.data["dcim/power-feeds/"].append(dict(feed, id=101, name="A02-A", rack={"id": 11}))
    warnings = import_site(canned.client(), "dc1").warnings
    assert f"rack 'A01' (id 10): no cooling_capacity; not imported ({where}, or --default-air-kw)" in warnings, warnings


def test_two_half_depth_devices_front_and_rear_share_their_units(canned):
    """NetBox lets two half-depth devices take the same units, one on each face: one block of those units
    with both loads and weights, and a warning; two full-depth devices there still overlap (exit 2)."""
    _site(canned)
    _device(canned, 7, "front1", 3, draw=1500, is_full_depth=False)
    _device(canned, 8, "rear1", 3, draw=500, is_full_depth=False)
    canned.data["dcim/devices/"][0]["face"] = {"value": "front"}
    canned.data["dcim/devices/"][1]["face"] = {"value": "rear"}
    out = import_site(canned.client(), "dc1")
    assert [(e["u"], e["position"], e["kw"], e["weight_kg"]) for e in out.facility["existing"]] == [(8, 3, 2, 100)]
    assert ("device 'rear1' (id 8) in rack 'A01' (id 10): half-depth on the rear of units 3-10, behind device "
            "'front1' (id 7); counted in one block with it (both loads)") in out.warnings
    for dt in canned.data["dcim/device-types/"]:
        dt["is_full_depth"] = True
    with pytest.raises(InputError, match="overlap"):
        import_site(canned.client(), "dc1")


def test_an_export_says_what_it_changed_only_once_it_is_done(planned, tmp_path, capsys, monkeypatch):
    """A real export prints its changes after NetBox took them all; when NetBox refuses one (say, a
    read-only token), only the one line saying nothing was kept, not changes that did not happen."""
    from planner.netbox import exporter
    from planner.netbox.client import NetBoxError

    class Changes:
        def lines(self) -> list[str]:
            return ["create device 'b200-8x-air hall-1/A/01 U1' in rack 'hall-1-A-01'"]

        def summary(self, dry_run: bool) -> str:
            return "netbox export: 1 device created"

    monkeypatch.setattr(exporter, "prepare", lambda client, job: Changes())
    argv = ["netbox", "export", str(planned / "plan" / "plan.json"), "--map", str(planned / "map.json"),
            "--url", "http://127.0.0.1:9", "--token", "nbt_key.secret"]

    def refused(client, changes):
        raise NetBoxError("http://127.0.0.1:9", "HTTP 403 on dcim/devices/: permission denied; nothing was kept")

    monkeypatch.setattr(exporter, "apply", refused)
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.out == "" and "nothing was kept" in out.err
    monkeypatch.setattr(exporter, "apply", lambda client, changes: None)
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        "create device 'b200-8x-air hall-1/A/01 U1' in rack 'hall-1-A-01'", "netbox export: 1 device created"]


def test_a_split_rack_group_shares_its_cooling_limit_by_racks(canned):
    """A rack group of three racks, one of another kind, becomes rows A (2 racks) and A-2 (1 rack): the
    group's 300 kW row cooling is shared 200 kW and 100 kW, never 300 kW twice."""
    _site(canned)
    a01 = canned.data["dcim/racks/"][0]
    a01["group"] = {"id": 50}
    canned.data["dcim/rack-groups/"] = [{"id": 50, "name": "A", "site": {"id": 1},
                                        "custom_fields": {"rackplan_cooling_kw": 300}}]
    feed = canned.data["dcim/power-feeds/"][0]
    for rid, name, capacity in ((11, "A02", 20), (12, "A03", 30)):
        canned.data["dcim/racks/"].append(dict(a01, id=rid, name=name, cooling_capacity=capacity))
        canned.data["dcim/power-feeds/"].append(dict(feed, id=100 + rid, name=f"{name}-A", rack={"id": rid}))
    out = import_site(canned.client(), "dc1")
    rows = out.facility["halls"][0]["rows"]
    assert [(r["name"], r["racks"], r["cooling_kw"]) for r in rows] == [("A", 2, 200), ("A-2", 1, 100)]
    assert any("shared among them by their racks" in w for w in out.warnings), out.warnings
