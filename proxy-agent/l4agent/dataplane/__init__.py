"""The data plane of one process: listeners, routes, origins, counters and relays.

`plane.DataPlane` owns the listener set and its two-step apply; `relay/` holds the
userspace forwarders (TCP, spliced TCP, UDP); `routes`, `acl`, `origins` and
`resolver` decide where a connection goes; `stats` counts; `sockets` binds.
"""
