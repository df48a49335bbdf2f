"""rackplan: datacenter rack power and thermal capacity planner for GPU nodes.

The package keeps PuLP inside :mod:`planner.model` and :mod:`planner.solve`; everything else deals in
plain data (pydantic models, numpy arrays, pandas frames).
"""

__version__ = "0.1.0"
