// Two SHA-256 messages hashed together with the x86 SHA extensions. One message alone is bound by the latency
// of SHA256RNDS2, each depending on the one before; a second, independent message fills those waits.
#include "CSHA256.h"
#include "fault_guard.h"
#include "sha256_constants.h"
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t initialState[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/// One message's running state in the instructions' layout (ABEF, CDGH) and its 16-word schedule.
typedef struct {
    __m128i abef, cdgh;
    __m128i words[4];
} Lane;

SHA_TARGET static inline void laneLoad(Lane *lane, const uint8_t *block) {
    const __m128i byteSwap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    for (int i = 0; i < 4; i++) {
        lane->words[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)), byteSwap);
    }
}

/// Rounds 4g..4g+3, and the schedule words they make ready: W[g+1] once g >= 3, and the first half of W[g+3].
SHA_TARGET static inline void laneRounds(Lane *lane, int g) {
    __m128i current = lane->words[g & 3];
    __m128i message = _mm_add_epi32(current, _mm_load_si128((const __m128i *)&csha256_roundConstants[4 * g]));
    lane->cdgh = _mm_sha256rnds2_epu32(lane->cdgh, lane->abef, message);
    if (g >= 3 && g <= 14) {
        __m128i next = _mm_add_epi32(lane->words[(g + 1) & 3], _mm_alignr_epi8(current, lane->words[(g + 3) & 3], 4));
        lane->words[(g + 1) & 3] = _mm_sha256msg2_epu32(next, current);
    }
    lane->abef = _mm_sha256rnds2_epu32(lane->abef, lane->cdgh, _mm_shuffle_epi32(message, 0x0E));
    if (g >= 1 && g <= 12) {
        lane->words[(g + 3) & 3] = _mm_sha256msg1_epu32(lane->words[(g + 3) & 3], current);
    }
}

SHA_TARGET static inline void laneStart(Lane *lane, const csha256_state *state) {
    __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state->words[0]), 0xB1);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state->words[4]), 0x1B);
    lane->abef = _mm_alignr_epi8(dcba, efgh, 8);
    lane->cdgh = _mm_blend_epi16(efgh, dcba, 0xF0);
}

SHA_TARGET static inline void laneStore(const Lane *lane, csha256_state *state) {
    __m128i feba = _mm_shuffle_epi32(lane->abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(lane->cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&state->words[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&state->words[4], _mm_alignr_epi8(dchg, feba, 8));
}

SHA_TARGET static inline void laneBlock(Lane *lane, const uint8_t *block) {
    __m128i abef = lane->abef, cdgh = lane->cdgh;
    laneLoad(lane, block);
#pragma clang loop unroll(full)
    for (int g = 0; g < 16; g++) laneRounds(lane, g);
    lane->abef = _mm_add_epi32(lane->abef, abef);
    lane->cdgh = _mm_add_epi32(lane->cdgh, cdgh);
}

/// Both lanes one block each, round group by round group, so their dependency chains overlap.
SHA_TARGET static inline void laneBlockPair(Lane *first, const uint8_t *firstBlock, Lane *second, const uint8_t *secondBlock) {
    __m128i firstAbef = first->abef, firstCdgh = first->cdgh;
    __m128i secondAbef = second->abef, secondCdgh = second->cdgh;
    laneLoad(first, firstBlock);
    laneLoad(second, secondBlock);
#pragma clang loop unroll(full)
    for (int g = 0; g < 16; g++) {
        laneRounds(first, g);
        laneRounds(second, g);
    }
    first->abef = _mm_add_epi32(first->abef, firstAbef);
    first->cdgh = _mm_add_epi32(first->cdgh, firstCdgh);
    second->abef = _mm_add_epi32(second->abef, secondAbef);
    second->cdgh = _mm_add_epi32(second->cdgh, secondCdgh);
}

int csha256_supported(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_SSE4_1) || !(ecx & bit_SSSE3)) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx & bit_SHA) ? 1 : 0;
}

void csha256_begin(csha256_state *state) { memcpy(state->words, initialState, sizeof initialState); }

SHA_TARGET static void hashBlocks(csha256_state *state, const uint8_t *data, size_t blocks) {
    Lane lane;
    laneStart(&lane, state);
    for (size_t i = 0; i < blocks; i++) laneBlock(&lane, data + 64 * i);
    laneStore(&lane, state);
}

typedef struct {
    csha256_state *first, *second;
    const uint8_t *firstData, *secondData;
    size_t blocks;
} BlocksArguments;

static void blocksBody(void *context) {
    BlocksArguments *arguments = context;
    hashBlocks(arguments->first, arguments->firstData, arguments->blocks);
}

SHA_TARGET static void pairBody(void *context) {
    BlocksArguments *arguments = context;
    Lane a, b;
    laneStart(&a, arguments->first);
    laneStart(&b, arguments->second);
    for (size_t i = 0; i < arguments->blocks; i++) {
        laneBlockPair(&a, arguments->firstData + 64 * i, &b, arguments->secondData + 64 * i);
    }
    laneStore(&a, arguments->first);
    laneStore(&b, arguments->second);
}

int csha256_blocks(csha256_state *state, const uint8_t *data, size_t blocks) {
    BlocksArguments arguments = {state, NULL, data, NULL, blocks};
    return csha256_guarded(blocksBody, &arguments);
}

int csha256_blocks_pair(csha256_state *first, const uint8_t *firstData, csha256_state *second, const uint8_t *secondData, size_t blocks) {
    BlocksArguments arguments = {first, second, firstData, secondData, blocks};
    return csha256_guarded(pairBody, &arguments);
}

int csha256_end(csha256_state *state, const uint8_t *tail, size_t tailLength, uint64_t totalLength, uint8_t digest[32]) {
    uint8_t blocks[128] = {0};
    if (tailLength > 0 && csha256_copy(blocks, tail, tailLength) != 0) return CSHA256_FAULT;
    blocks[tailLength] = 0x80;
    size_t count = tailLength < 56 ? 64 : 128;
    uint64_t bits = totalLength * 8;
    for (int i = 0; i < 8; i++) blocks[count - 1 - i] = (uint8_t)(bits >> (8 * i));
    hashBlocks(state, blocks, count / 64);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(state->words[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(state->words[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(state->words[i] >> 8);
        digest[4 * i + 3] = (uint8_t)state->words[i];
    }
    return 0;
}

#else

int csha256_supported(void) { return 0; }
void csha256_begin(csha256_state *state) { memset(state, 0, sizeof *state); }
int csha256_blocks(csha256_state *state, const uint8_t *data, size_t blocks) {
    (void)state; (void)data; (void)blocks;
    return 0;
}
int csha256_blocks_pair(csha256_state *first, const uint8_t *firstData, csha256_state *second, const uint8_t *secondData, size_t blocks) {
    (void)first; (void)firstData; (void)second; (void)secondData; (void)blocks;
    return 0;
}
int csha256_end(csha256_state *state, const uint8_t *tail, size_t tailLength, uint64_t totalLength, uint8_t digest[32]) {
    (void)state; (void)tail; (void)tailLength; (void)totalLength;
    memset(digest, 0, 32);
    return 0;
}

#endif
