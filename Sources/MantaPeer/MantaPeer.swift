// MantaPeer: see docs/architecture.md.
