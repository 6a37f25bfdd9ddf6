#ifndef CSHA256_CONSTANTS_H
#define CSHA256_CONSTANTS_H

#include <stdint.h>

extern const uint32_t csha256_roundConstants[64];

#endif
