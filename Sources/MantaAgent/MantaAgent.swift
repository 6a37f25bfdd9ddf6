// MantaAgent: see docs/architecture.md.
