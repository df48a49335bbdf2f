"""Stage 4, the report: view data from a plan or comparison document (:mod:`.views`), number
formatting (:mod:`.format`), inline SVG drawings (:mod:`.drawing`), rendered by Jinja2 templates."""
