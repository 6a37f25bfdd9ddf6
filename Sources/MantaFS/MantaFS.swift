// MantaFS: see docs/architecture.md.
