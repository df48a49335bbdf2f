"""rackplan: datacenter rack power and thermal capacity planner for GPU nodes.

The package keeps PuLP inside :mod:`planner.optimize.milp` and :mod:`planner.optimize.solvers`; everything else deals in
plain data (pydantic models, numpy arrays, column tables (`planner.table.Table`, `.to_pandas()` for a pandas frame)).
"""

__version__ = "0.1.0"
