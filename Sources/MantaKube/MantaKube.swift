// MantaKube: see docs/architecture.md.
