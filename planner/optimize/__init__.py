"""Stage 2, optimization: rack classes and their fill patterns (:mod:`.classes`), the first-fit
baseline (:mod:`.first_fit`), the integer program (:mod:`.milp`), the solvers (:mod:`.solvers`), the
pipeline that reads the solution back into racks (:mod:`.placement`) and the diagnosis of a demand
that does not fit (:mod:`.diagnose`). The only package that imports PuLP."""
