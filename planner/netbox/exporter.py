"""``rackplan netbox export``: a plan's nodes into NetBox, as planned devices or rack reservations, or as
NetBox bulk-import files.

Each planned node becomes a device with status ``planned`` in its rack (found through the rack map
that ``rackplan netbox import`` wrote), at the plan's position (converted to the rack's own unit
numbering), on one face, named ``NODE RACKID U<position>``, tagged ``rackplan-<12 hex>``: the first 12
digits of the sha256 of the plan file, the plan's id. Its device type is the one whose slug is the node
id (or ``--device-type NODE=SLUG``); a missing one is created (manufacturer ``rackplan``, two power
ports whose ``maximum_draw`` add up to the node's ``max_kw``).

The export is a sync of the plan's tag: devices of the plan that exist are updated where they differ,
missing ones created, and tagged devices no longer in the plan deleted. A second run of the same plan
therefore changes nothing. Everything is read and checked first (racks exist and still have the
imported height; no planned unit overlaps a device or a reservation that is not the plan's; names are
free; device types fit), and only then written: supporting objects one by one, then the devices in
one bulk request each for delete, update and create (NetBox applies a bulk request in one
transaction). If NetBox refuses any write, what was done is undone (created objects deleted, updated
ones patched back, deleted ones created again) and the error is reported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import InputError, Problem
from planner.netbox.client import NetBoxClient, NetBoxError, value
from planner.netbox.importer import SCHEMA_MAP, map_path, safe_name, to_netbox, unit_ranges

MANUFACTURER = {"name": "rackplan", "slug": "rackplan"}
PORTS_PER_NODE = 2
"""Power ports given to a device type rackplan creates (one per feed side); their ``maximum_draw`` add up
to the node's ``max_kw``."""
ROLE_COLOR = "2f6a31"
CSV_FILES = {"tags.csv", "manufacturers.csv", "device-roles.csv", "devices.csv", "rack-reservations.csv", "README.txt"}
"""What ``--csv DIR`` writes (besides ``device-types/``)."""


@dataclass(frozen=True)
class Ref:
    """The id of an object created earlier in the same export (filled in when it exists)."""

    key: str


@dataclass
class Planned:
    """One planned node on its way into NetBox."""

    name: str
    node: str
    rid: str
    rack: dict[str, Any]
    """The rack's entry in the map."""
    low: int
    """Lowest unit, rackplan numbering (1 = bottom)."""
    u: int
    position: int
    """NetBox ``position`` (the rack's own numbering)."""

    @property
    def units(self) -> list[int]:
        return list(range(self.position, self.position + self.u))


@dataclass
class ExportJob:
    """A plan and its rack map, checked and turned into planned devices; no NetBox needed yet."""

    plan: dict[str, Any]
    plan_name: str
    plan_id: str
    mapping: dict[str, Any]
    map_name: str
    nodes: list[Planned]
    node_types: dict[str, dict[str, Any]]
    face: str = "front"
    role: str = "gpu-node"
    device_types: dict[str, str] = field(default_factory=dict)
    """Node id -> NetBox device type slug given with ``--device-type``."""
    as_: str = "devices"
    user: str | None = None
    warnings: list[str] = field(default_factory=list)
    """What the export could not check (an older rack map), one line each."""

    @property
    def tag(self) -> dict[str, str]:
        fac = (self.plan.get("facility") or {}).get("name", "")
        return {"name": f"rackplan {self.plan_id}", "slug": f"rackplan-{self.plan_id}", "color": ROLE_COLOR,
                "weight": 1000, "description": f"rackplan plan {Path(self.plan_name).name} made {self.plan.get('made_at', '?')} "
                               f"for '{fac}'"[:200]}

    def type_slug(self, node: str) -> str:
        return self.device_types.get(node) or safe_name(node, "node").replace(".", "-").lower()

    @classmethod
    def from_args(cls, args: Any, plan: dict[str, Any]) -> "ExportJob":
        overrides: dict[str, str] = {}
        for text in args.device_type or []:
            for part in [p.strip() for p in text.split(",") if p.strip()]:
                nid, sep, slug = (x.strip() for x in part.partition("="))
                if not sep or not nid or not slug:
                    raise InputError.one("<command line>", "--device-type", f"expected NODE=SLUG, got '{part}'")
                overrides[nid] = slug
        return cls.build(plan, args.plan, map_file=args.map, face=args.face, role=args.role, device_types=overrides,
                         as_=args.as_, user=args.user)

    @classmethod
    def build(cls, plan: dict[str, Any], plan_name: str, *, map_file: str | None = None, face: str = "front",
              role: str = "gpu-node", device_types: dict[str, str] | None = None, as_: str = "devices",
              user: str | None = None) -> "ExportJob":
        from planner.results.plan_schema import validate_plan

        plan = validate_plan(plan, plan_name)
        try:
            digest = hashlib.sha256(Path(plan_name).read_bytes()).hexdigest()
        except OSError:
            digest = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()
        map_name, mapping = _load_map(plan, plan_name, map_file)
        warnings = _same_facility(plan, plan_name, map_name, mapping)
        problems: list[Problem] = []
        node_types = plan["node_types"]
        for nid in device_types or {}:
            if nid not in node_types:
                problems.append(Problem("<command line>", "--device-type", f"the plan has no node '{nid}'; its nodes: "
                                                                            f"{', '.join(sorted(node_types))}"))
        nodes: list[Planned] = []
        for k, rack in enumerate(plan["racks"]):
            where = f"racks[{k}]"
            entry = mapping["racks"].get(rack["id"])
            if entry is None:
                problems.append(Problem(plan_name, f"{where}.id", f"rack '{rack['id']}' is not in the rack map "
                                                                  f"{map_name}; import the site again and re-plan"))
                continue
            positions = rack.get("positions")
            want = sum(rack["nodes"].values())
            if not isinstance(positions, list) or len(positions) != want:
                problems.append(Problem(plan_name, f"{where}.positions", f"rack '{rack['id']}' has {want} node(s) but "
                                        f"{len(positions) if isinstance(positions, list) else 'no'} positions; "
                                        "plan it again with this rackplan"))
                continue
            for p in positions:
                nid, low = p.get("node"), p.get("u")
                if nid not in node_types or not isinstance(low, int):
                    problems.append(Problem(plan_name, f"{where}.positions", f"bad position {p!r}"))
                    continue
                u = int(node_types[nid]["u"])
                if low < 1 or low + u - 1 > entry["u_height"]:
                    problems.append(Problem(plan_name, f"{where}.positions", f"{nid} at U{low}-{low + u - 1} does not "
                                            f"fit NetBox rack '{entry['name']}' ({entry['u_height']}U)"))
                    continue
                pos = to_netbox(low, u, entry["starting_unit"], entry["u_height"], entry["desc_units"])
                name = f"{nid} {rack['id']} U{pos}"
                if len(name) > 64:
                    name = f"{nid[:30]} {rack['id'][-24:]} U{pos}"
                nodes.append(Planned(name, nid, rack["id"], entry, low, u, pos))
        if not nodes and not problems:
            problems.append(Problem(plan_name, "racks", "the plan places no node"))
        if problems:
            raise InputError(problems)
        return cls(plan, plan_name, digest[:12], mapping, map_name, nodes, node_types, face, role,
                   dict(device_types or {}), as_, user, warnings)


def _same_facility(plan: dict[str, Any], plan_name: str, map_name: str, mapping: dict[str, Any]) -> list[str]:
    """Refuse a plan made on another facility file than the one the rack map was written with (a
    re-import renumbers racks: the same rack id can be another NetBox rack). The map's facility file
    edited after the import, and planned on as edited, passes with a warning; so does a map written
    before maps recorded their facility file. Returns the warnings."""
    plan_sha = (plan.get("facility") or {}).get("sha256")
    recorded = mapping.get("facility") if isinstance(mapping.get("facility"), dict) else {}
    map_sha, map_fac = recorded.get("sha256"), recorded.get("file")
    if not map_sha:
        return [f"the rack map {map_name} does not record the facility file it was written with (an older "
                f"rackplan); not checked that {plan_name} was made on it. Import the site again to record it"]
    if not plan_sha:
        return [f"{plan_name} does not record its facility file's sha256; not checked against the rack map {map_name}"]
    if plan_sha == map_sha:
        return []
    fac_path = Path(map_name).parent / str(map_fac or "")
    try:
        edited = bool(map_fac) and hashlib.sha256(fac_path.read_bytes()).hexdigest() == plan_sha
    except OSError:
        edited = False
    if edited:
        return [f"{fac_path} was edited after the import that wrote the rack map {map_name}; {plan_name} was made on "
                "the edited file and is exported on the assumption that its racks are where the import put them"]
    raise InputError.one(plan_name, "facility.sha256",
                         f"the plan was made on a different facility file (sha256 {plan_sha[:12]}...) than the "
                         f"rack map {map_name} describes ({map_fac or 'its facility file'}, sha256 {map_sha[:12]}...): "
                         "plan again on the imported facility")


def _load_map(plan: dict[str, Any], plan_name: str, map_file: str | None) -> tuple[str, dict[str, Any]]:
    """The rack map: ``--map``, else the one beside the facility file the plan names, looked for at its
    path as typed when planning (relative to the current directory), at its absolute path
    (``facility.path``), then beside the plan."""
    if map_file:
        candidates = [Path(map_file)]
    else:
        record = plan.get("facility") or {}
        fac_file = record.get("file")
        if not fac_file:
            raise InputError.one("<command line>", "--map", "the plan does not name its facility file; give --map FILE")
        candidates = [map_path(fac_file)]
        if record.get("path"):
            candidates.append(map_path(record["path"]))
        candidates.append(Path(plan_name).parent / map_path(Path(fac_file).name))
        candidates = list(dict.fromkeys(candidates))
    for path in candidates:
        if path.is_file():
            break
    else:
        tried = ", ".join(str(p) for p in candidates)
        raise InputError.one("<command line>", "--map", f"no rack map at {tried} (rackplan netbox import writes it "
                                                        "beside the facility file); give --map FILE")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError.one(str(path), "", f"not a readable rack map: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_MAP or not isinstance(data.get("racks"), dict):
        raise InputError.one(str(path), "schema", f"expected a rack map ({SCHEMA_MAP}) written by rackplan netbox import")
    return str(path), data


# --- what would change --------------------------------------------------------------------------------

@dataclass
class Create:
    endpoint: str
    key: str | None
    body: dict[str, Any]
    label: str


@dataclass
class Changes:
    """Everything an export would write, worked out from NetBox's current state."""

    job: ExportJob
    endpoint: str
    """``dcim/devices/`` or ``dcim/rack-reservations/``."""
    support: list[Create] = field(default_factory=list)
    """Tag, role, manufacturer, device types and their power port templates to create, in order."""
    creates: list[Create] = field(default_factory=list)
    updates: list[tuple[int, dict[str, Any], dict[str, Any], str]] = field(default_factory=list)
    """(id, fields to set, their values before, label)."""
    deletes: list[tuple[dict[str, Any], dict[str, Any], str]] = field(default_factory=list)
    """(object, the body that would create it again, label)."""
    unchanged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)
    """Ids of the objects that exist already (tag, role, device types)."""

    def lines(self) -> list[str]:
        out = [f"note: {n}" for n in self.notes]
        out += [f"create {c.label}" for c in self.support]
        out += [f"delete {label}" for _, _, label in self.deletes]
        out += [f"update {label}: " + ", ".join(f"{k} {_show(before.get(k))} -> {_show(v)}" for k, v in patch.items())
                for _, patch, before, label in self.updates]
        out += [f"create {c.label}" for c in self.creates]
        return out

    def summary(self, dry_run: bool) -> str:
        what = "devices" if self.endpoint == "dcim/devices/" else "rack reservations"
        tag = self.job.tag["slug"]
        counts = (f"{len(self.creates)} to create, {len(self.updates)} to update, {len(self.deletes)} to delete, "
                  f"{len(self.unchanged)} unchanged" + (f", {len(self.support)} supporting object(s) to create"
                                                       if self.support else ""))
        if dry_run:
            return f"netbox export (dry run, nothing written): {what} tagged {tag}: {counts}"
        if not (self.creates or self.updates or self.deletes or self.support):
            return f"netbox export: {what} tagged {tag}: nothing to change ({len(self.unchanged)} up to date)"
        return (f"netbox export: {what} tagged {tag}: created {len(self.creates)}, updated {len(self.updates)}, "
                f"deleted {len(self.deletes)}, {len(self.unchanged)} unchanged")

    @property
    def empty(self) -> bool:
        return not (self.support or self.creates or self.updates or self.deletes)


def _show(v: Any) -> str:
    return "none" if v is None else str(v)


def _one(client: NetBoxClient, path: str, **query: Any) -> dict[str, Any] | None:
    found = client.list(path, **query)
    return found[0] if found else None


def prepare(client: NetBoxClient, job: ExportJob) -> Changes:
    """Read NetBox, check everything, and work out the changes; writes nothing."""
    client.status()
    problems: list[Problem] = []
    site_id = job.mapping["site"]["id"]
    rack_ids = sorted({n.rack["id"] for n in job.nodes})
    racks = {r["id"]: r for r in client.list_ids("dcim/racks/", rack_ids)}
    for n in job.nodes:
        r = racks.get(n.rack["id"])
        label = f"NetBox rack '{n.rack['name']}' (id {n.rack['id']}) for {n.rid}"
        if r is None:
            problems.append(Problem(client.url, "", f"{label} no longer exists; import the site again and re-plan"))
        elif (r.get("site") or {}).get("id") != site_id or int(r.get("u_height") or 0) != n.rack["u_height"] \
                or int(r.get("starting_unit") or 1) != n.rack["starting_unit"] \
                or bool(r.get("desc_units")) != n.rack["desc_units"]:
            problems.append(Problem(client.url, "", f"{label} changed since the import (site, height or unit "
                                                    "numbering); import the site again and re-plan"))
    _raise(problems)
    changes = Changes(job, "dcim/devices/" if job.as_ == "devices" else "dcim/rack-reservations/")
    tag = _one(client, "extras/tags/", slug=job.tag["slug"])
    if tag is None:
        changes.support.append(Create("extras/tags/", "tag", dict(job.tag), f"tag {job.tag['slug']}"))
    else:
        changes.ids["tag"] = tag["id"]

    # what occupies the racks: devices and reservations that are not this plan's
    devices = client.list_in("dcim/devices/", "rack_id", rack_ids)
    dtypes = {t["id"]: t for t in client.list_ids("dcim/device-types/", [d["device_type"]["id"] for d in devices])}
    reservations = client.list_in("dcim/rack-reservations/", "rack_id", rack_ids)
    ours = job.tag["slug"]

    def tagged(obj: dict[str, Any]) -> bool:
        return any(t.get("slug") == ours for t in obj.get("tags") or [])

    taken: dict[int, dict[int, str]] = {}
    for d in devices:
        pos = d.get("position")
        height = float(dtypes.get(d["device_type"]["id"], {}).get("u_height") or 0)
        if pos is None or height <= 0 or tagged(d):
            continue
        for u in range(int(float(pos) // 1), int(-(-(float(pos) + height) // 1))):
            taken.setdefault(d["rack"]["id"], {})[u] = f"device '{d.get('name') or d['id']}'"
    reserved: dict[int, dict[int, str]] = {}
    for resv in reservations:
        if tagged(resv) or value(resv.get("status")) == "stale":
            continue
        for u in resv.get("units") or []:
            reserved.setdefault(resv["rack"]["id"], {})[int(u)] = f"reservation {resv['id']}"
    for n in job.nodes:
        hits = {taken.get(n.rack["id"], {}).get(u) for u in n.units} - {None}
        if job.as_ == "reservations":
            hits |= {reserved.get(n.rack["id"], {}).get(u) for u in n.units} - {None}
        if hits:
            problems.append(Problem(client.url, "", f"{n.node} at U{n.units[0]}-{n.units[-1]} of NetBox rack "
                                                    f"'{n.rack['name']}' ({n.rid}) would overlap "
                                                    f"{', '.join(sorted(hits))}; import the site again and re-plan"))
    _raise(problems)
    if job.as_ == "devices":
        _devices(client, job, changes, devices, racks, tagged, problems)
    else:
        _reservations(client, job, changes, reservations, racks, tagged, problems)
    _raise(problems)
    return changes


def _raise(problems: list[Problem]) -> None:
    if problems:
        raise InputError(problems)


def _device_type_body(job: ExportJob, nid: str, with_liquid_field: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    nt = job.node_types[nid]
    total_w = int(round(float(nt["max_kw"]) * 1000))
    share = [total_w // PORTS_PER_NODE + (1 if i < total_w % PORTS_PER_NODE else 0) for i in range(PORTS_PER_NODE)]
    lf = float(nt.get("liquid_fraction") or 0)
    body: dict[str, Any] = {
        "manufacturer": Ref("manufacturer"), "model": nid, "slug": job.type_slug(nid), "u_height": int(nt["u"]),
        "is_full_depth": True, "weight": round(float(nt["weight_kg"]), 2), "weight_unit": "kg",
        "cooling_method": "air" if lf == 0 else ("liquid" if lf >= 1 else "hybrid"),
        "comments": (f"Created by rackplan for node profile '{nid}': {nt['gpus']} GPUs"
                     + (f" ({nt['accelerator']})" if nt.get("accelerator") else "")
                     + f", design load {float(nt['max_kw']):g} kW, {lf:.0%} of its heat to liquid."),
    }
    if with_liquid_field and lf:
        body["custom_fields"] = {"rackplan_liquid_fraction": lf}
    ports = [{"device_type": Ref(f"dt:{nid}"), "name": f"PSU{i + 1}", "maximum_draw": w} for i, w in enumerate(share)]
    return body, ports


def _devices(client: NetBoxClient, job: ExportJob, changes: Changes, devices: list[dict], racks: dict[int, dict],
             tagged: Any, problems: list[Problem]) -> None:
    role = _one(client, "dcim/device-roles/", slug=job.role)
    if role is None:
        changes.support.append(Create("dcim/device-roles/", "role", {
            "name": "GPU node" if job.role == "gpu-node" else job.role, "slug": job.role, "color": ROLE_COLOR,
            "description": "GPU nodes placed by rackplan"}, f"device role {job.role}"))
    else:
        changes.ids["role"] = role["id"]
    liquid_field = bool(client.list("extras/custom-fields/", name="rackplan_liquid_fraction"))
    need_mfr = False
    for nid in sorted({n.node for n in job.nodes}):
        slug = job.type_slug(nid)
        nt = job.node_types[nid]
        dt = _one(client, "dcim/device-types/", slug=slug)
        if dt is None:
            if nid in job.device_types:
                problems.append(Problem("<command line>", "--device-type", f"NetBox has no device type '{slug}' "
                                                                           f"(for node {nid})"))
                continue
            body, ports = _device_type_body(job, nid, liquid_field)
            need_mfr = True
            changes.support.append(Create("dcim/device-types/", f"dt:{nid}", body,
                                          f"device type {slug} ({nt['u']}U, {float(nt['weight_kg']):g} kg)"))
            for p in ports:
                changes.support.append(Create("dcim/power-port-templates/", None, p,
                                              f"power port {p['name']} of {slug} (maximum_draw {p['maximum_draw']} W)"))
            continue
        changes.ids[f"dt:{nid}"] = dt["id"]
        label = f"NetBox device type '{slug}' (id {dt['id']}) for node {nid}"
        if float(dt.get("u_height") or 0) != float(nt["u"]):
            problems.append(Problem(client.url, "", f"{label} is {float(dt.get('u_height') or 0):g}U, the node "
                                                    f"{nt['u']}U; give another with --device-type {nid}=SLUG"))
            continue
        templates = client.list("dcim/power-port-templates/", device_type_id=dt["id"])
        if not templates:
            problems.append(Problem(client.url, "", f"{label} has no power ports; add power port templates with "
                                                    f"maximum_draw in NetBox, or give another with --device-type"))
            continue
        total = sum(float(t.get("maximum_draw") or 0) for t in templates)
        want = float(nt["max_kw"]) * 1000
        if abs(total - want) > max(1.0, 0.01 * want):
            changes.notes.append(f"{label}: its power ports' maximum_draw add up to {total:g} W; the plan's node "
                                 f"draws at most {want:g} W")
    if need_mfr:
        mfr = _one(client, "dcim/manufacturers/", slug=MANUFACTURER["slug"])
        if mfr is None:
            changes.support.insert(0, Create("dcim/manufacturers/", "manufacturer", dict(MANUFACTURER),
                                             "manufacturer rackplan"))
        else:
            changes.ids["manufacturer"] = mfr["id"]
    if problems:
        return
    want_names = [n.name for n in job.nodes]
    mine = {d["name"]: d for d in client.list("dcim/devices/", tag=job.tag["slug"])} if "tag" in changes.ids else {}
    clash = [d for d in client.list_in("dcim/devices/", "name", want_names, site_id=job.mapping["site"]["id"])
             if not tagged(d)]
    for d in clash:
        problems.append(Problem(client.url, "", f"a device named '{d['name']}' (id {d['id']}) exists and is not part "
                                                "of this plan; rename or remove it"))
    if problems:
        return
    wanted = set(want_names)
    for name, d in sorted(mine.items()):
        if name not in wanted:
            changes.deletes.append((d, _device_restore(d), f"device '{name}' (id {d['id']}): no longer in the plan"))
    for n in job.nodes:
        rack = racks[n.rack["id"]]
        body = {"name": n.name, "device_type": changes.ids.get(f"dt:{n.node}", Ref(f"dt:{n.node}")),
                "role": changes.ids.get("role", Ref("role")), "site": job.mapping["site"]["id"],
                "location": (rack.get("location") or {}).get("id"), "rack": rack["id"], "position": n.position,
                "face": job.face, "status": "planned"}
        cur = mine.get(n.name)
        if cur is None:
            body["tags"] = [changes.ids.get("tag", Ref("tag"))]
            changes.creates.append(Create("dcim/devices/", None, body,
                                          f"device '{n.name}' ({n.node}) in rack '{rack['name']}' at U{n.position}"
                                          f"-{n.position + n.u - 1} ({job.face})"))
            continue
        now = {"device_type": value(cur.get("device_type")), "role": value(cur.get("role")),
               "site": value(cur.get("site")), "location": value(cur.get("location")), "rack": value(cur.get("rack")),
               "position": None if cur.get("position") is None else float(cur["position"]),
               "face": value(cur.get("face")), "status": value(cur.get("status"))}
        patch = {k: v for k, v in body.items() if k != "name" and not _same(now.get(k), v)}
        if patch:
            changes.updates.append((cur["id"], patch, {k: now.get(k) for k in patch}, f"device '{n.name}'"))
        else:
            changes.unchanged.append(n.name)


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, Ref):
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def _device_restore(d: dict[str, Any]) -> dict[str, Any]:
    body = {k: value(d.get(k)) for k in ("name", "device_type", "role", "site", "location", "rack", "position",
                                          "face", "status")}
    body["tags"] = [t["id"] for t in d.get("tags") or []]
    return {k: v for k, v in body.items() if v is not None}


def _user_id(client: NetBoxClient, job: ExportJob) -> int:
    if job.user:
        u = _one(client, "users/users/", username=job.user)
        if u is None:
            raise NetBoxError(client.url, f"--user: NetBox has no user '{job.user}'")
        return u["id"]
    if client.token.startswith("nbt_"):
        key = client.token[4:].split(".", 1)[0]
        try:
            tok = _one(client, "users/tokens/", key=key)
        except NetBoxError:
            tok = None
        if tok and tok.get("user"):
            return tok["user"]["id"]
    raise NetBoxError(client.url, "cannot tell the token's user (rack reservations need one); give --user USERNAME")


def _reservations(client: NetBoxClient, job: ExportJob, changes: Changes, reservations: list[dict],
                  racks: dict[int, dict], tagged: Any, problems: list[Problem]) -> None:
    user = _user_id(client, job)
    by_rack: dict[int, list[Planned]] = {}
    for n in job.nodes:
        by_rack.setdefault(n.rack["id"], []).append(n)
    mine: dict[int, dict] = {}
    for resv in reservations:
        if tagged(resv):
            if resv["rack"]["id"] in mine or resv["rack"]["id"] not in by_rack:
                changes.deletes.append((resv, _resv_restore(resv), f"rack reservation {resv['id']} in rack "
                                                                   f"'{resv['rack'].get('name')}': no longer in the plan"))
            else:
                mine[resv["rack"]["id"]] = resv
    for rack_id, nodes in sorted(by_rack.items()):
        rack = racks[rack_id]
        units = sorted(u for n in nodes for u in n.units)
        counts: dict[str, int] = {}
        for n in nodes:
            counts[n.node] = counts.get(n.node, 0) + 1
        desc = (f"rackplan {job.plan_id}: " + ", ".join(f"{c} x {nid}" for nid, c in counts.items())
                + " (" + ", ".join(f"U{n.position}-{n.position + n.u - 1}" for n in sorted(nodes, key=lambda n: n.position))
                + ")")
        if len(desc) > 200:
            desc = desc[:196] + " ..."
        body = {"rack": rack_id, "units": units, "user": user, "description": desc, "status": "pending"}
        cur = mine.get(rack_id)
        if cur is None:
            body["tags"] = [changes.ids.get("tag", Ref("tag"))]
            changes.creates.append(Create("dcim/rack-reservations/", None, body,
                                          f"rack reservation in rack '{rack['name']}' ({nodes[0].rid}): units "
                                          f"{unit_ranges(units)}"))
            continue
        now = {"rack": rack_id, "units": sorted(cur.get("units") or []), "user": value(cur.get("user")),
               "description": cur.get("description"), "status": value(cur.get("status"))}
        patch = {k: v for k, v in body.items() if k != "user" and now.get(k) != v}
        if patch:
            changes.updates.append((cur["id"], patch, {k: now.get(k) for k in patch},
                                    f"rack reservation {cur['id']} in rack '{rack['name']}'"))
        else:
            changes.unchanged.append(f"reservation {cur['id']}")


def _resv_restore(r: dict[str, Any]) -> dict[str, Any]:
    return {"rack": r["rack"]["id"], "units": list(r.get("units") or []), "user": value(r.get("user")),
            "description": r.get("description") or "", "status": value(r.get("status")) or "pending",
            "tags": [t["id"] for t in r.get("tags") or []]}


# --- writing, all or nothing ------------------------------------------------------------------------

def _resolve(body: Any, ids: dict[str, int]) -> Any:
    if isinstance(body, Ref):
        return ids[body.key]
    if isinstance(body, dict):
        return {k: _resolve(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_resolve(v, ids) for v in body]
    return body


def apply(client: NetBoxClient, changes: Changes) -> None:
    """Write the changes; on any refused write undo what was done and raise :class:`NetBoxError`."""
    ids = dict(changes.ids)
    created: list[tuple[str, list[int]]] = []
    updated: list[tuple[str, list[dict[str, Any]]]] = []
    deleted: list[tuple[str, list[dict[str, Any]]]] = []
    ep = changes.endpoint
    try:
        for item in changes.support:
            obj = client.create(item.endpoint, _resolve(item.body, ids))
            created.append((item.endpoint, [obj["id"]]))
            if item.key:
                ids[item.key] = obj["id"]
        if changes.deletes:
            client.delete(ep, [d["id"] for d, _, _ in changes.deletes])
            deleted.append((ep, [body for _, body, _ in changes.deletes]))
        if changes.updates:
            client.update(ep, [{"id": i, **_resolve(patch, ids)} for i, patch, _, _ in changes.updates])
            updated.append((ep, [{"id": i, **before} for i, _, before, _ in changes.updates]))
        if changes.creates:
            objs = client.create(ep, [_resolve(c.body, ids) for c in changes.creates])
            created.append((ep, [o["id"] for o in objs]))
    except NetBoxError as exc:
        undo_problems = _undo(client, created, updated, deleted)
        what = exc.problems[0].message
        done = sum(len(i) for _, i in created) + sum(len(b) for _, b in updated) + sum(len(b) for _, b in deleted)
        if undo_problems:
            raise NetBoxError(client.url, f"{what}; undoing the {done} change(s) made before failed too: "
                                          + "; ".join(undo_problems)) from None
        raise NetBoxError(client.url, f"{what}; nothing was kept ({done} change(s) made before were undone)") from None


def _undo(client: NetBoxClient, created: list, updated: list, deleted: list) -> list[str]:
    problems = []
    for endpoint, ids in reversed(created):
        try:
            client.delete(endpoint, ids)
        except NetBoxError as exc:
            if exc.status != 404:  # a device type's templates go with it
                problems.append(exc.problems[0].message)
    for endpoint, before in reversed(updated):
        try:
            client.update(endpoint, [{k: v for k, v in b.items()} for b in before])
        except NetBoxError as exc:
            problems.append(exc.problems[0].message)
    for endpoint, bodies in reversed(deleted):
        try:
            client.create(endpoint, bodies)
        except NetBoxError as exc:
            problems.append(exc.problems[0].message)
    return problems


# --- NetBox bulk-import files ---------------------------------------------------------------------------

def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r[k]) for k in columns})
    return buf.getvalue()


def write_csv(job: ExportJob, directory: str) -> list[Path]:
    """The export as files for NetBox's bulk import (no API): CSV for the tag, role, manufacturer,
    devices or rack reservations, and the device types as devicetype-library YAML (NetBox's device type
    import takes that shape, power ports included). ``README.txt`` gives the import order."""
    import yaml

    from planner.results.outputs import atomic_outputs

    site = job.mapping["site"]
    tag = job.tag
    files: dict[str, str] = {"tags.csv": _csv([tag], ["name", "slug", "color", "weight", "description"])}
    order = ["tags.csv"]
    if job.as_ == "devices":
        role_name = "GPU node" if job.role == "gpu-node" else job.role
        files["device-roles.csv"] = _csv([{"name": role_name, "slug": job.role, "color": ROLE_COLOR}],
                                         ["name", "slug", "color"])
        new_types = sorted({n.node for n in job.nodes if n.node not in job.device_types})
        if new_types:
            files["manufacturers.csv"] = _csv([MANUFACTURER], ["name", "slug"])
            order.append("manufacturers.csv")
        order.append("device-roles.csv")
        model_of: dict[str, tuple[str, str]] = {}
        for nid in new_types:
            body, ports = _device_type_body(job, nid, with_liquid_field=False)
            doc = {"manufacturer": MANUFACTURER["name"], "model": body["model"], "slug": body["slug"],
                   "u_height": body["u_height"], "is_full_depth": True, "weight": body["weight"], "weight_unit": "kg",
                   "comments": body["comments"],
                   "power-ports": [{"name": p["name"], "maximum_draw": p["maximum_draw"]} for p in ports]}
            name = f"device-types/{body['slug']}.yaml"
            files[name] = yaml.safe_dump(doc, sort_keys=False)
            order.append(name)
            model_of[nid] = (MANUFACTURER["name"], body["model"])
        rows = []
        for n in job.nodes:
            mfr, model = model_of.get(n.node, ("", job.device_types.get(n.node, "")))
            rows.append({"name": n.name, "role": role_name, "manufacturer": mfr, "device_type": model,
                         "status": "planned", "site": site.get("name"), "location": n.rack.get("location_name"),
                         "rack": n.rack["name"], "position": n.position, "face": job.face, "tags": tag["slug"]})
        files["devices.csv"] = _csv(rows, ["name", "role", "manufacturer", "device_type", "status", "site", "location",
                                           "rack", "position", "face", "tags"])
        order.append("devices.csv")
        if any(n.node in job.device_types for n in job.nodes):
            files_note = ("devices.csv: for nodes given with --device-type, fill in the manufacturer column and the "
                          "device type's model (the column holds its slug)")
        else:
            files_note = ""
    else:
        by_rack: dict[str, list[Planned]] = {}
        for n in job.nodes:
            by_rack.setdefault(n.rid, []).append(n)
        rows = [{"site": site.get("name"), "location": ns[0].rack.get("location_name"), "rack": ns[0].rack["name"],
                 "units": ",".join(str(u) for u in sorted(u for n in ns for u in n.units)), "status": "pending",
                 "description": f"rackplan {job.plan_id}: " + ", ".join(n.node for n in ns), "tags": tag["slug"]}
                for _, ns in sorted(by_rack.items())]
        files["rack-reservations.csv"] = _csv(rows, ["site", "location", "rack", "units", "status", "description",
                                                     "tags"])
        order.append("rack-reservations.csv")
        files_note = ("rack-reservations.csv: NetBox makes the importing user the reservations' user.\n"
                      "NetBox's import view does not save tags on rack reservations: these arrive without the tag "
                      f"{tag['slug']}, so a later API export of this plan (rackplan netbox export --as reservations) "
                      "sees them as not the plan's and stops where they overlap its units. Add the tag to them in "
                      "NetBox (select them, Edit Selected, Add tags) before such an export, or delete them and "
                      "export through the API instead.")
    readme = [f"NetBox bulk import of rackplan plan {job.plan_name} (tag {tag['slug']}), site '{site.get('name')}'.",
              "Import in this order (NetBox: each object list > Import; CSV files as CSV, device types as YAML):"]
    readme += [f"  {i}. {name}" for i, name in enumerate(order, 1)]
    readme += ["Objects that exist already (the tag, role or manufacturer of an earlier export) can be left out."]
    if files_note:
        readme.append(files_note)
    files["README.txt"] = "\n".join(readme) + "\n"
    with atomic_outputs(directory) as out:
        if job.as_ == "devices":
            out.replace_dir("device-types")  # no device type of an earlier export lingers
        paths = [out.write_text(name, text) for name, text in files.items()]
    # files of an earlier export in the other mode would be imported by mistake
    for name in CSV_FILES - set(files):
        (Path(directory) / name).unlink(missing_ok=True)
    if job.as_ != "devices" and (Path(directory) / "device-types").is_dir():
        import shutil

        shutil.rmtree(Path(directory) / "device-types")
    return paths
