"""The NetBox round trip (docs/netbox.md): import a site as a facility file, export a plan back.

* :mod:`planner.netbox.client` - a small REST client on ``urllib`` with one-line errors and checked
  pagination;
* :mod:`planner.netbox.importer` - ``rackplan netbox import``: a site -> a facility and its rack map;
* :mod:`planner.netbox.exporter` - ``rackplan netbox export``: a plan -> planned devices, rack
  reservations or bulk-import files, all or nothing;
* :mod:`planner.netbox.fields` - the custom fields rackplan reads;
* :mod:`planner.netbox.devicetype` - a devicetype-library file as a node profile (``--specs``).

Nothing here is imported unless a ``netbox`` command runs (or ``--specs`` reads a devicetype file).
"""
