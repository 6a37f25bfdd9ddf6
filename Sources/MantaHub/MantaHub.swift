// MantaHub: see docs/architecture.md.
