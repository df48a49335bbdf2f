"""Studies built on many plans: comparing candidates at their spec points (:mod:`.compare`)."""
