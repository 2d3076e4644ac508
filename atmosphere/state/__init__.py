"""What Atmosphere remembers between requests and restarts: the hosts, their probes and the
operator's choices, and the files they are saved in. Imports nothing of the router or faces."""
