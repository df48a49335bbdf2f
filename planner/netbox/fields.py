"""The NetBox custom fields rackplan reads: what NetBox does not model (a panel's rating and its UPS,
a hall's cooling units, the liquid share of a hybrid rack's cooling).

Every field is optional: without it the import falls back as described (and says so in a warning).
``rackplan netbox fields`` creates them in a NetBox (idempotent); docs/netbox.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.netbox.client import NetBoxClient


@dataclass(frozen=True)
class CustomField:
    name: str
    object_type: str
    type: str
    """NetBox custom field type: ``decimal``, ``integer``, ``text``."""
    description: str


FIELDS: tuple[CustomField, ...] = (
    CustomField("rackplan_kw", "dcim.powerpanel", "decimal",
                "Load this panel (PDU, RPP, busway) or UPS source can carry [kW] (rackplan: power.panels.*.kw, "
                "power.sources.*.kw)"),
    CustomField("rackplan_source", "dcim.powerpanel", "text",
                "Name of the UPS source this panel hangs off; a power panel of that name with rackplan_kw gives "
                "the source's rating (rackplan: power.panels.*.source)"),
    CustomField("rackplan_cooling_units", "dcim.location", "integer",
                "Installed room cooling units (CRAH, chillers) of this hall (rackplan: halls[].cooling_units.count)"),
    CustomField("rackplan_cooling_unit_kw", "dcim.location", "decimal",
                "Heat each cooling unit of this hall rejects [kW] (rackplan: halls[].cooling_units.unit_kw)"),
    CustomField("rackplan_cooling_redundant", "dcim.location", "integer",
                "Cooling units held in reserve, N+k (rackplan: halls[].cooling_units.redundant)"),
    CustomField("rackplan_it_kw", "dcim.location", "decimal",
                "Electrical (critical IT) capacity of this hall [kW] (rackplan: halls[].it_kw)"),
    CustomField("rackplan_cooling_kw", "dcim.rackgroup", "decimal",
                "Limit on this row's total heat [kW]: in-row coolers, a row CDU (rackplan: rows[].cooling_kw)"),
    CustomField("rackplan_cooling", "dcim.rack", "text",
                "rackplan cooling type when NetBox's cooling_capability is not precise enough: air, rdhx, dlc or "
                "immersion"),
    CustomField("rackplan_liquid_kw", "dcim.rack", "decimal",
                "Part of cooling_capacity that goes to the rack's liquid loop [kW] (hybrid racks); the rest is air"),
    CustomField("rackplan_liquid_fraction", "dcim.devicetype", "decimal",
                "Share of an installed device's power that goes to the rack's liquid loop (0..1); default 0 (air)"),
)


def ensure_custom_fields(client: NetBoxClient) -> list[str]:
    """Create the custom fields that are missing (or add a missing object type to one); return what was
    done, one line each."""
    have = {f["name"]: f for f in client.list("extras/custom-fields/", name=[f.name for f in FIELDS])}
    done = []
    for field in FIELDS:
        cur = have.get(field.name)
        if cur is None:
            body = {"name": field.name, "type": field.type, "object_types": [field.object_type],
                    "description": field.description[:200], "group_name": "rackplan"}
            have[field.name] = client.create("extras/custom-fields/", body)
            done.append(f"created custom field {field.name} on {field.object_type}")
        elif field.object_type not in cur["object_types"]:
            types = sorted(set(cur["object_types"]) | {field.object_type})
            have[field.name] = client.update(f"extras/custom-fields/{cur['id']}/", {"object_types": types})
            done.append(f"added {field.object_type} to custom field {field.name}")
    return done
