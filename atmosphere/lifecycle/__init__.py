"""What the running process owns beside the faces: the exposure check at start, the SIGTERM drain."""
