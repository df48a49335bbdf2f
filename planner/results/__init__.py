"""Stage 3, results: the ``plan.json`` document and ``racks.csv`` (:mod:`.plan_json`), the shape a
plan must have when it comes back as input (:mod:`.plan_schema`), the independent checker
(:mod:`.checker`) and all-or-nothing output files (:mod:`.outputs`)."""
