#ifndef CSHA256_FAULT_GUARD_H
#define CSHA256_FAULT_GUARD_H

/// Runs `body(context)`; returns CSHA256_FAULT if it touched memory that raised SIGBUS on this thread, else 0.
int csha256_guarded(void (*body)(void *context), void *context);

#endif
