"""``rackplan netbox import``: one NetBox site as a facility file, and the map back to NetBox's racks.

What becomes what (docs/netbox.md has the full table):

* the site -> the facility; each rack's location -> a hall (its custom fields ``rackplan_cooling_*`` ->
  ``cooling_units``, ``rackplan_it_kw`` -> ``it_kw``); racks without a location -> a hall named after
  the site;
* each rack's group -> a row (``rackplan_cooling_kw`` -> ``cooling_kw``); without a group the row is the
  rack's name without its trailing number (``A07`` -> ``A``, ``R3-12`` -> ``R3``); racks in a row are
  numbered in natural name order; a group whose racks differ (type, feeds, panels) is split into rows
  ``NAME``, ``NAME-2``, ...;
* each rack's power feeds -> its rack type's ``feed`` (voltage, amperage, phase; ``max_utilization`` as
  the derate) and ``feeds``; primary and redundant feeds -> ``2N``, primary only -> ``N``;
* power panels -> ``power.panels`` (``rackplan_kw``, ``rackplan_source``), a power panel named as a
  source -> ``power.sources``;
* a rack's ``cooling_capability``/``cooling_capacity`` -> ``cooling``, ``air_kw``, ``liquid_kw``;
* the devices in a rack (and its rack reservations) -> the rack's ``existing`` entries, one per
  positioned device and per reservation, one for the devices without a position: power from each
  power port's ``allocated_draw``, else ``maximum_draw``; U and position from the device type and the
  device; weight from the device type.

Racks that differ only in name share a rack type. Whatever cannot be mapped is one warning naming the
object; a rack without feeds or a feed without voltage or amperage is bad input (nothing is written).
The facility is validated (:func:`planner.inputs.facility.load_facility`'s checks) before anything is
written. The map (``rackplan.netbox-map/1``, ``FACILITY.netbox.json``) gives each rackplan rack id its
NetBox rack, and records the name and sha256 of the facility file written with it; ``rackplan netbox
export`` reads it, and refuses a plan made on another facility file.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from planner import physics
from planner.errors import InputError, Problem
from planner.netbox.client import NetBoxClient, NetBoxError, custom, value

SCHEMA_MAP = "rackplan.netbox-map/1"
DEFAULT_POWER_FACTOR = 0.95
DEFAULT_MAX_WEIGHT_KG = 1360.0
"""Used for a rack without ``max_weight`` (with a warning): 3,000 lb, a common static load rating of
42-48U server cabinets. Check it against your racks' data sheets."""
WEIGHT_KG = {"kg": 1.0, "g": 0.001, "lb": 0.45359237, "oz": 0.028349523125}
LIQUID_METHODS = ("liquid", "hybrid", "immersion")
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")


def safe_name(text: str, fallback: str) -> str:
    """A rackplan name (``[A-Za-z0-9][A-Za-z0-9_.-]*``, at most 64 characters) from NetBox's."""
    name = _NAME_BAD.sub("-", str(text or "")).strip("-._")[:64].rstrip("-._")
    return name or fallback


def natural_key(text: str) -> tuple:
    """``A2`` before ``A10``."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", text or ""))


def row_from_name(rack_name: str) -> str:
    """The naming rule for racks without a rack group: the name without its trailing number and the
    separators before it (``A07`` -> ``A``, ``R3-12`` -> ``R3``, ``hall1.row-b.04`` -> ``hall1.row-b``)."""
    m = re.match(r"^(.*?)[\s\-_.]*\d+$", rack_name or "")
    return (m.group(1) if m else rack_name) or "racks"


def weight_kg(amount: Any, unit: Any) -> float | None:
    if amount in (None, ""):
        return None
    return float(amount) * WEIGHT_KG.get(value(unit) or "kg", 1.0)


def _num(x: Any) -> float | None:
    return None if x in (None, "") else float(x)


def _g(x: float) -> float | int:
    """A tidy number for the YAML file: integers as integers, others rounded to 6 places."""
    x = round(float(x), 6)
    return int(x) if x == int(x) and abs(x) < 1e15 else x


@dataclass
class RackIn:
    """One NetBox rack on its way into the facility."""

    nb: dict[str, Any]
    hall: str
    row: str
    type_key: tuple
    spec: dict[str, Any]
    """Its rack type's fields."""
    panels: tuple[str, ...] | None
    """NetBox power panel ids per feed path (A, B), or None when they cannot be given per path."""
    netbox_type: str | None
    hall_key: int | None = None
    """NetBox location id (None: no location)."""
    row_key: tuple = ()
    """``("group", id)`` or ``("name", row name from the naming rule)``."""
    type_name: str = ""
    rid: str = ""


@dataclass
class Imported:
    """The facility (as the YAML document), the rack map and what was said along the way."""

    facility: dict[str, Any]
    mapping: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    netbox_version: str = ""

    def yaml_text(self) -> str:
        import yaml

        site = self.mapping["site"]
        head = [f"# Imported from NetBox {self.netbox_version} at {self.mapping['netbox']['url']}, site "
                f"'{site['slug']}' (id {site['id']}), {self.mapping['imported_at']}, by `rackplan netbox import`.",
                "# Each rackplan rack id's NetBox rack is in the map beside this file (*.netbox.json), which",
                "# `rackplan netbox export` reads; rows say which NetBox racks they hold in their description.",
                f"# Not in NetBox, left at rackplan's defaults: site.power_factor {DEFAULT_POWER_FACTOR}, "
                "electricity price, load factor, pPUEs.",
                ]
        if self.warnings:
            head.append(f"# {len(self.warnings)} warning(s) at import:")
            head += [f"#   {w}" for w in self.warnings]
        body = yaml.safe_dump(self.facility, sort_keys=False, width=110, allow_unicode=True)
        return "\n".join(head) + "\n" + body

    def map_text(self, facility_file: str | Path, facility_text: str) -> str:
        """The rack map as written beside ``facility_file`` (whose text is ``facility_text``): with the
        facility file's name and sha256, which ``rackplan netbox export`` compares with the plan's
        ``facility.sha256``."""
        self.mapping["facility"] = {"file": Path(facility_file).name,
                                    "sha256": hashlib.sha256(facility_text.encode("utf-8")).hexdigest()}
        return json.dumps(self.mapping, indent=2) + "\n"


class _Problems:
    """Bad input found while reading the site: collected, then raised together (nothing written)."""

    def __init__(self, url: str):
        self.url = url
        self.items: list[Problem] = []

    def add(self, what: str, message: str) -> None:
        self.items.append(Problem(self.url, what, message))

    def raise_any(self) -> None:
        if self.items:
            raise InputError(self.items)


def _label(obj: dict[str, Any], kind: str) -> str:
    return f"{kind} '{obj.get('name') or obj.get('display') or obj.get('id')}' (id {obj.get('id')})"


def import_site(client: NetBoxClient, slug: str, *, default_air_kw: float | None = None,
                out_name: str = "facility.yaml", warnings: list[str] | None = None) -> Imported:
    """Read site ``slug`` and build the facility. Raises :class:`InputError` (exit 2) on bad answers and
    on a facility that would not validate; everything else unmappable is a warning. The warnings go to
    ``warnings`` when given (so that a caller has them when the import fails, often their cause) and
    to the result."""
    st = client.status()
    version = str(st.get("netbox-version", ""))
    sites = client.list("dcim/sites/", slug=slug)
    if len(sites) != 1:
        known = [s["slug"] for s in client.list("dcim/sites/")][:12]
        raise NetBoxError(client.url, f"no site with slug '{slug}'; sites: {', '.join(known) or 'none'}")
    site = sites[0]
    sid = site["id"]
    racks = client.list("dcim/racks/", site_id=sid)
    if not racks:
        raise NetBoxError(client.url, f"site '{slug}' has no racks")
    feeds = client.list("dcim/power-feeds/", site_id=sid)
    panels = {p["id"]: p for p in client.list("dcim/power-panels/", site_id=sid)}
    locations = {loc["id"]: loc for loc in client.list("dcim/locations/", site_id=sid)}
    devices = [d for d in client.list("dcim/devices/", site_id=sid) if d.get("rack")]
    ports = client.list("dcim/power-ports/", site_id=sid)
    reservations = client.list("dcim/rack-reservations/", site_id=sid)
    dtypes = {t["id"]: t for t in client.list_ids("dcim/device-types/", [d["device_type"]["id"] for d in devices])}
    group_ids = [r["group"]["id"] for r in racks if r.get("group")]
    groups = {g["id"]: g for g in client.list_ids("dcim/rack-groups/", group_ids)} if group_ids else {}

    warnings = [] if warnings is None else warnings
    problems = _Problems(client.url)
    feeds_of: dict[int, list[dict]] = {}
    for f in feeds:
        if f.get("rack"):
            feeds_of.setdefault(f["rack"]["id"], []).append(f)
    devices_of: dict[int, list[dict]] = {}
    for d in devices:
        devices_of.setdefault(d["rack"]["id"], []).append(d)
    ports_of: dict[int, list[dict]] = {}
    for p in ports:
        if p.get("device"):
            ports_of.setdefault(p["device"]["id"], []).append(p)
    resv_of: dict[int, list[dict]] = {}
    for r in reservations:
        resv_of.setdefault(r["rack"]["id"], []).append(r)

    # --- racks: feeds, cooling, size -> a rack type key each ------------------------------------------
    utils: Counter[float] = Counter()
    pending: list[tuple[dict, dict]] = []
    for rack in sorted(racks, key=lambda r: natural_key(r["name"])):
        label = _label(rack, "rack")
        status = value(rack.get("status"))
        if status == "deprecated":
            warnings.append(f"{label}: status deprecated; not imported")
            continue
        if status == "reserved":
            warnings.append(f"{label}: status reserved; imported and listed in the facility's reserved (no plan "
                            "places anything there)")
        elif status not in (None, "", "active"):
            warnings.append(f"{label}: status {status}; imported as a live rack (set it to deprecated to leave it out)")
        rf = feeds_of.get(rack["id"], [])
        if not rf:
            problems.add(label, "has no power feeds; give it its feeds in NetBox (dcim/power-feeds with rack set), "
                                "or set its status to deprecated to leave it out")
            continue
        elec = []
        for f in rf:
            fl = _label(f, "power feed")
            if not f.get("amperage"):
                problems.add(fl, f"of {label} has no amperage; set it in NetBox")
            if not f.get("voltage"):
                problems.add(fl, f"of {label} has no voltage; set it in NetBox")
            if not f.get("amperage") or not f.get("voltage"):
                continue
            if value(f.get("status")) not in (None, "", "active"):
                warnings.append(f"{fl} of {label}: status {value(f.get('status'))}; counted as a live feed")
            phase = 3 if value(f.get("phase")) == "three-phase" else 1
            util = float(f.get("max_utilization") or 100) / 100.0
            dc = value(f.get("supply")) == "dc"
            volts = abs(float(f["voltage"]))
            kw = (volts * float(f["amperage"]) * util / 1000.0 if dc
                  else physics.feed_kw(volts, float(f["amperage"]), phase, DEFAULT_POWER_FACTOR, util))
            elec.append({"feed": f, "volts": volts, "amps": float(f["amperage"]), "phases": phase, "util": util,
                         "dc": dc, "kw": kw, "type": value(f.get("type")) or "primary",
                         "panel": (f.get("power_panel") or {}).get("id")})
        if len(elec) != len(rf):
            continue
        pending.append((rack, {"elec": elec}))
    problems.raise_any()

    for _, info in pending:
        for e in info["elec"]:
            if not e["dc"]:
                utils[e["util"]] += 1
    site_derate = utils.most_common(1)[0][0] if utils else 0.8

    incoming: list[RackIn] = []
    for rack, info in pending:
        label = _label(rack, "rack")
        elec = info["elec"]
        sigs = {(e["volts"], e["amps"], e["phases"], e["util"], e["dc"]) for e in elec}
        weakest = min(elec, key=lambda e: e["kw"])
        if len(sigs) > 1:
            warnings.append(f"{label}: its feeds differ; planned with the weakest, {_feed_text(weakest)} "
                            f"({weakest['kw']:.1f} kW usable)")
        prim = [e for e in elec if e["type"] != "redundant"]
        red = [e for e in elec if e["type"] == "redundant"]
        if prim and red:
            redundancy, nfeeds = "2N", min(len(prim), len(red))
            if len(prim) != len(red):
                warnings.append(f"{label}: {len(prim)} primary and {len(red)} redundant feeds; planned as 2N with "
                                f"{nfeeds} feed(s) per side")
            paths = [prim, red]
        else:
            redundancy, nfeeds = "N", len(elec)
            if not prim:
                warnings.append(f"{label}: only redundant feeds; planned as N with {nfeeds} feed(s)")
            paths = [elec]
        path_panels = [{e["panel"] for e in p} for p in paths]
        panels_ok = all(len(s) == 1 and None not in s for s in path_panels)
        if weakest["dc"] or weakest["util"] != site_derate:
            feed = {"kw": _g(weakest["kw"])}
        else:
            feed = {"volts": _g(weakest["volts"]), "phases": weakest["phases"], "amps": _g(weakest["amps"])}

        cooling = _cooling(rack, label, default_air_kw, warnings)
        if cooling is None:
            continue
        width = value(rack.get("width"))
        form = "orv3" if width == 21 else "eia-19"
        if width not in (None, 19, 21, 23):
            warnings.append(f"{label}: width {width} in; planned as a 19-inch (eia-19) rack")
        max_w = weight_kg(rack.get("max_weight"), rack.get("weight_unit"))
        if max_w is None or max_w <= 0:
            warnings.append(f"{label}: no max_weight; assumed {DEFAULT_MAX_WEIGHT_KG:g} kg")
            max_w = DEFAULT_MAX_WEIGHT_KG
        rt: dict[str, Any] = {"u": int(rack.get("u_height") or 42), **cooling, "feed": feed}
        if nfeeds != 1:
            rt["feeds"] = nfeeds
        rt["power_redundancy"] = redundancy
        if form != "eia-19":
            rt["form_factor"] = form
        rt["max_weight_kg"] = _g(max_w)
        rt["description"] = (f"NetBox racks with {nfeeds} x {_feed_text(weakest)} feed(s)"
                             + (" per side (primary + redundant)" if redundancy == "2N" else ""))
        key = tuple(sorted((k, repr(v)) for k, v in rt.items() if k != "description"))
        loc = locations.get((rack.get("location") or {}).get("id"))
        hall = safe_name(loc["name"], f"location-{loc['id']}") if loc else safe_name(site["slug"], "site")
        group = groups.get((rack.get("group") or {}).get("id"))
        row = safe_name(group["name"], f"group-{group['id']}") if group else safe_name(row_from_name(rack["name"]), "racks")
        incoming.append(RackIn(rack, hall, row, key, rt, tuple(next(iter(s)) for s in path_panels) if panels_ok else None,
                               (rack.get("rack_type") or {}).get("slug"),
                               hall_key=loc["id"] if loc else None,
                               row_key=("group", group["id"]) if group else ("name", row)))
    if not incoming:
        raise NetBoxError(client.url, f"site '{slug}': no rack could be imported (see the warnings above)")

    rack_types = _name_rack_types(incoming)
    power, power_ok = _power(incoming, panels, warnings)
    halls = _halls(incoming, locations, groups, site, power_ok, warnings)
    existing, sources = [], []
    for rin in incoming:
        for entry, source in _existing(rin, devices_of.get(rin.nb["id"], []), ports_of, dtypes,
                                       resv_of.get(rin.nb["id"], []), warnings):
            existing.append(entry)
            sources.append(source)
    fac: dict[str, Any] = {
        "version": 1,
        "name": site.get("name") or slug,
        "description": f"Imported from NetBox site '{slug}' at {client.url}",
        "site": {"power_redundancy": "2N", "derate": _g(site_derate), "power_factor": DEFAULT_POWER_FACTOR},
        "rack_types": rack_types,
        "halls": halls,
    }
    if existing:
        fac["existing"] = existing
    reserved = [r.rid for r in incoming if value(r.nb.get("status")) == "reserved"]
    if reserved:  # NetBox's rack status `reserved`: held for something else, no plan places anything there
        fac["reserved"] = reserved
    if power is not None and power_ok:
        fac["power"] = power
    mapping = {
        "schema": SCHEMA_MAP,
        "netbox": {"url": client.url, "version": version},
        "site": {"id": sid, "slug": site["slug"], "name": site.get("name")},
        "imported_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "racks": {r.rid: {"id": r.nb["id"], "name": r.nb["name"],
                          "location": (r.nb.get("location") or {}).get("id"),
                          "location_name": (r.nb.get("location") or {}).get("name"),
                          "u_height": int(r.nb.get("u_height") or 42),
                          "starting_unit": int(r.nb.get("starting_unit") or 1),
                          "desc_units": bool(r.nb.get("desc_units"))} for r in incoming},
    }
    out = Imported(fac, mapping, warnings, version)
    _validate(out, client.url, sources, out_name)
    return out


def _feed_text(e: dict[str, Any]) -> str:
    if e["dc"]:
        return f"{e['volts']:g} V DC {e['amps']:g} A at {e['util']:.0%}"
    return f"{e['volts']:g} V {'three' if e['phases'] == 3 else 'single'}-phase {e['amps']:g} A at {e['util']:.0%}"


def _cooling(rack: dict[str, Any], label: str, default_air_kw: float | None,
             warnings: list[str]) -> dict[str, Any] | None:
    """``cooling``, ``air_kw`` and ``liquid_kw`` of a rack from NetBox 4.7's cooling fields (and the
    ``rackplan_cooling``/``rackplan_liquid_kw`` custom fields); None (with a warning) if unknown."""
    cap = _num(rack.get("cooling_capacity"))
    capability = value(rack.get("cooling_capability"))
    override = custom(rack, "rackplan_cooling")
    liquid = _num(custom(rack, "rackplan_liquid_kw"))
    if override not in (None, "", "air", "rdhx", "dlc", "immersion"):
        warnings.append(f"{label}: rackplan_cooling '{override}' is not air, rdhx, dlc or immersion; ignored")
        override = None
    if cap is None or cap <= 0:
        if default_air_kw is None:
            where = (f"on its rack type '{rack['rack_type'].get('slug') or rack['rack_type'].get('model')}', "
                     "which NetBox copies onto the rack" if isinstance(rack.get("rack_type"), dict) else "in NetBox")
            warnings.append(f"{label}: no cooling_capacity; not imported (give it one {where}, or --default-air-kw)")
            return None
        warnings.append(f"{label}: no cooling_capacity; air-cooled at --default-air-kw {default_air_kw:g} kW")
        return {"cooling": "air", "air_kw": _g(default_air_kw)}
    if capability in (None, "", "air-only"):
        if liquid:
            warnings.append(f"{label}: rackplan_liquid_kw given for an air-only rack; ignored")
        cooling = override if override in ("air", "rdhx") else "air"
        if override in ("dlc", "immersion"):
            warnings.append(f"{label}: rackplan_cooling '{override}' on an air-only rack; planned as air")
        return {"cooling": cooling, "air_kw": _g(cap)}
    loop = override if override in ("dlc", "immersion") else "dlc"
    if capability == "liquid-only":
        return {"cooling": loop, "air_kw": 0, "liquid_kw": _g(cap)}
    # hybrid: the custom field says how much of the capacity is liquid
    if liquid is None:
        warnings.append(f"{label}: hybrid cooling of {cap:g} kW without rackplan_liquid_kw (its liquid part); "
                        "not imported")
        return None
    if not 0 < liquid <= cap:
        warnings.append(f"{label}: rackplan_liquid_kw {liquid:g} is not within 0..cooling_capacity {cap:g}; not imported")
        return None
    return {"cooling": loop, "air_kw": _g(cap - liquid), "liquid_kw": _g(liquid)}


def _name_rack_types(incoming: list[RackIn]) -> dict[str, dict[str, Any]]:
    """One rack type per distinct key: named after NetBox's rack type where all its racks have the same
    one (and no other key uses it), else after what it is (``air-35kw-42u``)."""
    by_key: dict[tuple, list[RackIn]] = {}
    for r in incoming:
        by_key.setdefault(r.type_key, []).append(r)
    nb_names = Counter(next(iter({r.netbox_type for r in rs})) for rs in by_key.values()
                       if len({r.netbox_type for r in rs}) == 1)
    out: dict[str, dict[str, Any]] = {}
    names: dict[tuple, str] = {}
    for key, rs in by_key.items():
        rt = rs[0].spec
        nb = {r.netbox_type for r in rs}
        if len(nb) == 1 and None not in nb and nb_names[next(iter(nb))] == 1:
            base = safe_name(next(iter(nb)), "rack")
        else:
            cap = rt["air_kw"] + rt.get("liquid_kw", 0)
            base = f"{rt['cooling']}-{cap:g}kw-{rt['u']}u"
        name, n = base, 2
        while name in out:
            name, n = f"{base}-{n}", n + 1
        out[name] = rt
        names[key] = name
    for r in incoming:
        r.type_name = names[r.type_key]
    return out


def _power(incoming: list[RackIn], panels: dict[int, dict], warnings: list[str]) -> tuple[dict | None, bool]:
    """``power.sources`` and ``power.panels`` from the panels that feed imported racks, when every one of
    them has ``rackplan_kw`` and ``rackplan_source`` and every rack has one panel per feed path."""
    used = sorted({p for r in incoming for p in (r.panels or ())})
    if not any(custom(p, "rackplan_kw") is not None or custom(p, "rackplan_source") for p in panels.values()):
        warnings.append("power panels: none has the custom fields rackplan_kw and rackplan_source; no power "
                        "section (panels and UPS sources are not planned)")
        return None, False
    ok = True
    for r in incoming:
        if r.panels is None:
            warnings.append(f"{_label(r.nb, 'rack')}: the feeds of one path hang off different panels (or none); "
                            "no power section")
            ok = False
    doc_panels: dict[str, dict[str, Any]] = {}
    sources: dict[str, list[float]] = {}
    for pid in used:
        p = panels.get(pid)
        if p is None:
            warnings.append(f"power panel id {pid}: not in the site; no power section")
            ok = False
            continue
        kw, src = _num(custom(p, "rackplan_kw")), custom(p, "rackplan_source")
        if kw is None or kw <= 0 or not src:
            warnings.append(f"{_label(p, 'power panel')}: needs rackplan_kw (> 0) and rackplan_source; no power section")
            ok = False
            continue
        doc_panels[safe_name(p["name"], f"panel-{pid}")] = {"source": safe_name(src, "source"), "kw": _g(kw)}
        sources.setdefault(safe_name(src, "source"), []).append(kw)
    if not ok:
        return None, False
    by_name = {safe_name(p["name"], f"panel-{p['id']}"): p for p in panels.values()}
    doc_sources: dict[str, dict[str, Any]] = {}
    for name, kws in sources.items():
        p = by_name.get(name)
        kw = _num(custom(p, "rackplan_kw")) if p else None
        if kw is None or kw <= 0:
            warnings.append(f"source '{name}': no power panel of that name with rackplan_kw; rated at the sum of its "
                            f"panels ({sum(kws):g} kW), so it never limits")
            kw = sum(kws)
        doc_sources[name] = {"kw": _g(kw)}
    for r in incoming:
        r.panels = tuple(safe_name(panels[p]["name"], f"panel-{p}") for p in r.panels or ())  # type: ignore[assignment]
    # a redundant rack whose paths all hang off one panel or one source has no redundancy to plan for
    source_of = {n: p["source"] for n, p in doc_panels.items()}
    for r in incoming:
        if len(r.panels or ()) > 1:
            failures = set(r.panels) | {source_of[p] for p in r.panels}  # type: ignore[union-attr]
            if any(physics.paths_lost(r.panels, source_of, f) == len(r.panels) for f in failures):  # type: ignore[arg-type]
                warnings.append(f"{_label(r.nb, 'rack')}: its A and B feeds hang off the same panel or source "
                                "(one failure drops both); no power section")
                return None, False
    return {"sources": doc_sources, "panels": doc_panels}, True


def _halls(incoming: list[RackIn], locations: dict[int, dict], groups: dict[int, dict], site: dict,
           power_ok: bool, warnings: list[str]) -> list[dict[str, Any]]:
    """Halls with their rows; each rack gets its rackplan id."""
    # unique hall names per location, unique row names per group within a hall
    hall_name: dict[int | None, str] = {}
    for r in incoming:
        if r.hall_key not in hall_name:
            hall_name[r.hall_key] = _unique(r.hall, set(hall_name.values()))
        r.hall = hall_name[r.hall_key]
    row_name: dict[tuple, str] = {}
    for r in incoming:
        key = (r.hall_key, r.row_key)
        if key not in row_name:
            row_name[key] = _unique(r.row, {n for k, n in row_name.items() if k[0] == r.hall_key})
        r.row = row_name[key]
    halls: dict[str, dict[str, Any]] = {}
    loc_of: dict[str, dict | None] = {}
    rows: dict[tuple[str, str], list[RackIn]] = {}
    for r in incoming:
        rows.setdefault((r.hall, r.row), []).append(r)
        loc_of.setdefault(r.hall, locations.get(r.hall_key) if r.hall_key is not None else None)
    for (hall, row), racks in rows.items():
        racks.sort(key=lambda r: natural_key(r.nb["name"]))
        # split where racks differ in type or panels, keeping the order of first appearance
        parts: dict[tuple, list[RackIn]] = {}
        for r in racks:
            parts.setdefault((r.type_name, r.panels if power_ok else None), []).append(r)
        group = groups.get((racks[0].nb.get("group") or {}).get("id"))
        h = halls.setdefault(hall, {"name": hall, "rows": []})
        taken = {n for (hl, n) in rows if hl == hall} | {e["name"] for e in h["rows"]}
        names = [row]
        for i in range(1, len(parts)):
            names.append(_unique(f"{row}-{i + 1}", taken))
            taken.add(names[-1])
        if len(parts) > 1:
            what = f"rack group '{group['name']}'" if group else f"row '{row}' (from rack names)"
            cooling_note = (", the group's rackplan_cooling_kw shared among them by their racks (each part may use "
                            "only its share: the group's limit is never counted twice; edit the rows' cooling_kw to "
                            "share it otherwise)" if group and _num(custom(group, "rackplan_cooling_kw")) else "")
            warnings.append(f"{what} in hall '{hall}': its racks differ in rack type or panels; split into rows "
                            + ", ".join(f"'{nm}' ({len(p)} racks)" for nm, p in zip(names, parts.values()))
                            + cooling_note)
        for name, ((type_name, panels), part) in zip(names, parts.items()):
            n = len(part)
            width = max(2, len(str(n)))
            for k, r in enumerate(part, 1):
                r.rid = f"{hall}/{name}/{k:0{width}d}"
            desc = (f"NetBox {'rack group ' + repr(group['name']) if group else 'racks named ' + repr(row) + '*'}: "
                    + ", ".join(f"{k:0{width}d}={r.nb['name']}" for k, r in enumerate(part, 1)))
            entry: dict[str, Any] = {"name": name, "rack_type": type_name, "racks": n}
            cooling_kw = _num(custom(group, "rackplan_cooling_kw")) if group else None
            if cooling_kw:  # a split group's limit in shares by racks (rounded down to 0.1 kW): never above it
                entry["cooling_kw"] = _g(cooling_kw if len(parts) == 1 else
                                         math.floor(cooling_kw * n / len(racks) * 10) / 10)
            if power_ok and panels:
                entry["panels"] = list(panels)
            entry["description"] = desc if len(desc) <= 500 else desc[:496] + " ..."
            h["rows"].append(entry)
    out = []
    for hall, h in halls.items():
        loc = loc_of[hall]
        count = custom(loc, "rackplan_cooling_units") if loc else None
        unit_kw = _num(custom(loc, "rackplan_cooling_unit_kw")) if loc else None
        redundant = custom(loc, "rackplan_cooling_redundant") if loc else None
        racks = [r for r in incoming if r.hall == hall]
        if count and unit_kw:
            cu = {"count": int(count), "unit_kw": _g(unit_kw), "redundant": int(redundant or 0)}
        else:
            total = sum(float(r.spec["air_kw"]) + float(r.spec.get("liquid_kw", 0)) for r in racks) or 1.0
            where = _label(loc, "location") if loc else f"site '{site['slug']}' (racks without a location)"
            warnings.append(f"{where}: no rackplan_cooling_units and rackplan_cooling_unit_kw; hall '{hall}' cooling "
                            f"set to the sum of its racks' ({total:g} kW), so it never limits")
            cu = {"count": 1, "unit_kw": _g(total), "redundant": 0}
        hall_doc: dict[str, Any] = {"name": hall, "cooling_units": cu}
        it_kw = _num(custom(loc, "rackplan_it_kw")) if loc else None
        if it_kw:
            hall_doc["it_kw"] = _g(it_kw)
        hall_doc["rows"] = h["rows"]
        if loc:
            hall_doc["description"] = f"NetBox location '{loc['name']}' (id {loc['id']})"
        out.append(hall_doc)
    return out


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}-{n}", n + 1
    return out


def _existing(rin: RackIn, devices: list[dict], ports_of: dict[int, list[dict]], dtypes: dict[int, dict],
              reservations: list[dict], warnings: list[str]) -> list[tuple[dict[str, Any], str]]:
    """The rack's ``existing`` entries: one per positioned device (its units, power and weight) and per
    rack reservation, and one for the devices without a position (and 0U ones such as PDUs); each with
    the NetBox object(s) it comes from."""
    if not devices and not reservations:
        return []
    rack = rin.nb
    label = _label(rack, "rack")
    u_rack = int(rack.get("u_height") or 42)
    start = int(rack.get("starting_unit") or 1)
    desc_units = bool(rack.get("desc_units"))
    entries: list[tuple[dict[str, Any], str]] = []
    held: dict[int, str] = {}
    """NetBox unit -> the device (or reservation) counted there."""
    halves: dict[tuple[int, int], tuple[int, str, str]] = {}
    """Units of a half-depth device -> (its entry, its face, its name): where one on the other face may join."""
    loose = {"kw": 0.0, "liquid": 0.0, "u": 0, "weight": 0.0, "notes": [], "devices": []}
    for d in sorted(devices, key=lambda d: (d.get("position") or 0, d.get("name") or "")):
        dl = _label(d, "device")
        dt = dtypes.get(d["device_type"]["id"], {})
        height = float(dt.get("u_height") or 0)
        w = weight_kg(dt.get("weight"), dt.get("weight_unit"))
        if w is None:
            w = 0.0
            if height > 0:
                warnings.append(f"{dl} in {label}: its device type '{dt.get('model')}' has no weight; counted as 0 kg")
        dports = ports_of.get(d["id"], [])
        draw = 0.0
        if (d.get("power_outlet_count") or 0) > 0:
            note = "PDU, its outlets' load counted on the devices"
        elif not dports:
            if height > 0:
                warnings.append(f"{dl} in {label}: no power ports; counted as 0 W")
            note = "no power ports"
        else:
            used = []
            for p in dports:
                if p.get("allocated_draw"):
                    draw += float(p["allocated_draw"])
                    used.append("allocated_draw")
                elif p.get("maximum_draw"):
                    draw += float(p["maximum_draw"])
                    used.append("maximum_draw")
                else:
                    warnings.append(f"{dl} in {label}: power port '{p.get('name')}' has neither allocated_draw nor "
                                    "maximum_draw; counted as 0 W")
            note = f"{draw:g} W ({'/'.join(sorted(set(used))) or 'no draw given'})"
        frac = _num(custom(dt, "rackplan_liquid_fraction"))
        if frac is None:
            frac = 0.0
            if value(dt.get("cooling_method")) in LIQUID_METHODS and draw:
                warnings.append(f"{dl} in {label}: liquid-cooled device type without rackplan_liquid_fraction; its "
                                "heat counted as air")
        kw, liquid = draw / 1000.0, draw / 1000.0 * min(max(frac, 0.0), 1.0)
        pos = _num(d.get("position"))
        name = str(d.get("name") or d["id"])
        if height <= 0 or pos is None:
            loose["kw"] += kw
            loose["liquid"] += liquid
            loose["weight"] += w
            if height > 0:
                loose["u"] += int(-(-height // 1))
            loose["notes"].append(f"{name}: {height:g}U{'' if height <= 0 else ' without position'}, {note}")
            loose["devices"].append(f"'{name}' (id {d['id']})")
            continue
        lo_nb, hi_nb = int(pos // 1), int(-(-(pos + height) // 1)) - 1  # whole units it touches
        if pos % 1 or height % 1:
            warnings.append(f"{dl} in {label}: half-unit position or height; counted as units {lo_nb}-{hi_nb}")
        face = value(d.get("face"))
        half = dt.get("is_full_depth") is False and face in ("front", "rear")
        other = halves.get((lo_nb, hi_nb))
        if half and other is not None and other[1] != face:
            # NetBox lets two half-depth devices share units, one on each face: one block, both loads
            joined, _, first = other
            e = entries[joined][0]
            e["kw"] = _g(float(e["kw"]) + kw)
            if liquid > 0:
                e["liquid_kw"] = _g(float(e.get("liquid_kw") or 0.0) + liquid)
            e["weight_kg"] = _g(float(e["weight_kg"]) + w)
            e["description"] = _short(f"{e['description']}; and on the {face}, NetBox device '{name}' "
                                      f"(id {d['id']}): {note}")
            entries[joined] = (e, f"{entries[joined][1]} and {dl}")
            warnings.append(f"{dl} in {label}: half-depth on the {face} of units {lo_nb}-{hi_nb}, behind {first}; "
                            "counted in one block with it (both loads)")
            halves.pop((lo_nb, hi_nb))
            continue
        entry: dict[str, Any] = {"rack": rin.rid, "kw": _g(kw)}
        if liquid > 0:
            entry["liquid_kw"] = _g(liquid)
        entry.update(u=hi_nb - lo_nb + 1, position=_to_rackplan(lo_nb, hi_nb, start, u_rack, desc_units),
                     weight_kg=_g(w), description=_short(f"NetBox device '{name}' (id {d['id']}) in rack "
                                                         f"'{rack['name']}' at U{lo_nb}: {note}"))
        if half:
            halves[(lo_nb, hi_nb)] = (len(entries), face, f"device '{name}' (id {d['id']})")
        entries.append((entry, f"{dl} in {label}"))
        for u in range(lo_nb, hi_nb + 1):
            held.setdefault(u, f"device '{name}' (id {d['id']})")
    for resv in reservations:
        if value(resv.get("status")) == "stale":
            warnings.append(f"rack reservation {resv['id']} in {label}: stale; not counted")
            continue
        units = sorted({int(u) for u in resv.get("units") or []})
        if not units:
            continue
        # NetBox lets a reservation cover installed devices (an export as devices, then as reservations,
        # does): those units are the devices' load already, and counting them twice would overlap
        covered = [u for u in units if u in held]
        rest = [u for u in units if u not in held]
        what = f"rack reservation {resv['id']} in {label} (units {unit_ranges(units)})"
        if covered:
            by = ", ".join(dict.fromkeys(held[u] for u in covered))
            warnings.append(f"{what}: units {unit_ranges(covered)} are taken by {by}, counted once as that; "
                            + (f"units {unit_ranges(rest)} counted as occupied units with no power" if rest
                               else "the reservation adds nothing"))
        else:
            warnings.append(f"{what}: counted as occupied units with no power")
        for u in rest:
            held[u] = f"rack reservation {resv['id']}"
        for a, b in _runs(rest):
            entries.append(({"rack": rin.rid, "kw": 0, "u": b - a + 1,
                             "position": _to_rackplan(a, b, start, u_rack, desc_units), "weight_kg": 0,
                             "description": f"NetBox rack reservation {resv['id']} in rack '{rack['name']}'"},
                            f"rack reservation {resv['id']} in {label}"))
    if loose["notes"]:
        entry = {"rack": rin.rid, "kw": _g(loose["kw"])}
        if loose["liquid"] > 0:
            entry["liquid_kw"] = _g(loose["liquid"])
        entry.update(u=loose["u"], weight_kg=_g(loose["weight"]),
                     description=_short(f"NetBox rack '{rack['name']}' (id {rack['id']}), devices without a "
                                        "position (assumed at the top of the free space): " + "; ".join(loose["notes"])))
        entries.append((entry, f"the devices without a position (or 0U) in {label}: "
                               + ", ".join(loose["devices"])))
    return entries


def _short(text: str) -> str:
    return text if len(text) <= 500 else text[:496] + " ..."


def _to_rackplan(lo_nb: int, hi_nb: int, start: int, u_rack: int, desc_units: bool) -> int:
    """The lowest rackplan unit (1 = bottom) of NetBox units ``lo_nb..hi_nb``."""
    if desc_units:  # numbered top-down: the highest number is the lowest unit
        return start + u_rack - 1 - hi_nb + 1
    return lo_nb - start + 1


def to_netbox(low: int, height: int, start: int, u_rack: int, desc_units: bool) -> int:
    """NetBox ``position`` of a block whose lowest rackplan unit is ``low`` (the inverse of the above)."""
    if desc_units:
        return start + u_rack - low - height + 1
    return low + start - 1


def _runs(units: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for u in units:
        if out and u == out[-1][1] + 1:
            out[-1] = (out[-1][0], u)
        else:
            out.append((u, u))
    return out


def unit_ranges(units: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``1-3,7``."""
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in _runs(units))


def _validate(out: Imported, url: str, sources: list[str], name: str) -> None:
    """The written file must load: parse the YAML text and run every check, as ``load_facility`` does.
    A problem is reported on the NetBox object it comes from (the file is not written, so a line of it
    would point nowhere): an ``existing`` entry's device, reservation or rack, else the site."""
    from planner.inputs.facility import Facility, check_facility
    from planner.inputs.yamlio import parse_yaml, validate

    text = out.yaml_text()
    data, lines = parse_yaml(text, name)
    try:
        fac = validate(Facility, data, name, lines)
        check_facility(fac, name, lines)
    except InputError as exc:
        site = out.mapping["site"]
        fixed = []
        for p in exc.problems:
            m = re.match(r"existing\[(\d+)\]", p.path)
            where = (sources[int(m.group(1))] if m and int(m.group(1)) < len(sources)
                     else f"site '{site['slug']}' (id {site['id']})")
            fixed.append(Problem(url, "", f"{where}: {p.message} ({p.path or 'the facility'} of the facility it "
                                          "would write); the imported facility would not validate, nothing written"))
        raise InputError(fixed) from None


def map_path(facility_path: str | Path) -> Path:
    """Where the rack map of a facility file goes: ``site.yaml`` -> ``site.netbox.json``."""
    return Path(facility_path).with_suffix(".netbox.json")
