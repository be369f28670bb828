"""`--workers N`: the worker processes that share the listeners, the link to them and
the two-phase apply across every process (see `pool`)."""
