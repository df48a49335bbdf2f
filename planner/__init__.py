"""rackplan: datacenter rack power and thermal capacity planner for GPU nodes.

The package keeps PuLP inside :mod:`planner.optimize.milp` and :mod:`planner.optimize.solvers`; everything else deals in
plain data (pydantic models, numpy arrays, pandas frames).
"""

__version__ = "0.1.0"
