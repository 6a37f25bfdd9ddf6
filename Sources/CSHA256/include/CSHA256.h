#ifndef CSHA256_H
#define CSHA256_H
#include <stddef.h>
#include <stdint.h>

/// Returned by the functions below that read caller memory when that memory faulted (SIGBUS): a mapped file
/// shrank under its mapping. Nothing else in the process is affected.
#define CSHA256_FAULT (-1)

/// A SHA-256 in progress: its eight state words, in the standard order (a first).
typedef struct {
    uint32_t words[8];
} csha256_state;

/// 1 when this CPU has the SHA extensions the hashing functions need (x86-64 SHA-NI with SSE4.1); call them only then.
int csha256_supported(void);

void csha256_begin(csha256_state *state);

/// Hashes `blocks` whole 64-byte blocks. 0, or CSHA256_FAULT.
int csha256_blocks(csha256_state *state, const uint8_t *data, size_t blocks);

/// Hashes `blocks` whole blocks of each of two messages at once on one core: their rounds are interleaved, so the
/// SHA unit works on one while the other waits for its previous round. 0, or CSHA256_FAULT.
int csha256_blocks_pair(csha256_state *first, const uint8_t *firstData, csha256_state *second, const uint8_t *secondData, size_t blocks);

/// 1 when this CPU and its OS run AVX-512 (F and BW): call csha256_blocks_sixteen only then.
int csha256_sixteen_supported(void);

/// Hashes `blocks` whole blocks of each of sixteen messages at once on one core, message i's from `data[i]` into
/// `states[i]`. 0, or CSHA256_FAULT.
int csha256_blocks_sixteen(csha256_state states[16], const uint8_t *const data[16], size_t blocks);

/// Hashes the message's last `tailLength` (< 64) bytes with its padding and writes the digest. 0, or CSHA256_FAULT.
int csha256_end(csha256_state *state, const uint8_t *tail, size_t tailLength, uint64_t totalLength, uint8_t digest[32]);

/// memcpy that returns CSHA256_FAULT instead of crashing when `source` faults; 0 otherwise. Any CPU.
int csha256_copy(void *destination, const void *source, size_t length);

#endif
