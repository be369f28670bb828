"""Userspace relays: the processes copy (or splice) every byte between a client and
an origin. `tcp` (asyncio Protocols), `splice` (os.splice through pipes, `--splice`)
and `udp` (one upstream socket per flow)."""
