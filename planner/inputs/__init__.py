"""Stage 1, inputs: safe YAML reading, the facility descriptor, the spec library, the demand, and the
generated input reference. Everything here is plain data and pydantic; no solver is imported."""
