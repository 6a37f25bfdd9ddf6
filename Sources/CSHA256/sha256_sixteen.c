// Sixteen SHA-256 messages hashed at once on one core, one per 32-bit lane of AVX-512 registers. The SHA
// extensions hash one message per instruction chain; where that chain's latency is long (Intel's cores), the
// vector units' sixteen lanes finish more bytes per second than even a pair of chains.
#include "CSHA256.h"
#include "fault_guard.h"
#include "sha256_constants.h"
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define SIXTEEN_TARGET __attribute__((target("avx512f,avx512bw")))

typedef __m512i Words;

#define ROTATE(x, n) _mm512_ror_epi32(x, n)
// Truth tables for vpternlogd: a ^ b ^ c, choose (a ? b : c), majority.
#define XOR3(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0x96)
#define CHOOSE(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0xCA)
#define MAJORITY(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0xE8)
#define ADD(a, b) _mm512_add_epi32(a, b)

/// Rows of sixteen words (one block of each message) to columns: afterwards `rows[t]` holds word t of every message.
SIXTEEN_TARGET static inline void transpose(Words rows[16]) {
    Words pairs[16];
    for (int i = 0; i < 16; i += 2) {
        pairs[i] = _mm512_unpacklo_epi32(rows[i], rows[i + 1]);
        pairs[i + 1] = _mm512_unpackhi_epi32(rows[i], rows[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        rows[i] = _mm512_unpacklo_epi64(pairs[i], pairs[i + 2]);
        rows[i + 1] = _mm512_unpackhi_epi64(pairs[i], pairs[i + 2]);
        rows[i + 2] = _mm512_unpacklo_epi64(pairs[i + 1], pairs[i + 3]);
        rows[i + 3] = _mm512_unpackhi_epi64(pairs[i + 1], pairs[i + 3]);
    }
    // Each 128-bit quarter now holds four words of four messages; gather the quarters.
    for (int j = 0; j < 4; j++) {
        Words low = _mm512_shuffle_i32x4(rows[j], rows[4 + j], 0x44), high = _mm512_shuffle_i32x4(rows[j], rows[4 + j], 0xEE);
        Words lowNext = _mm512_shuffle_i32x4(rows[8 + j], rows[12 + j], 0x44), highNext = _mm512_shuffle_i32x4(rows[8 + j], rows[12 + j], 0xEE);
        pairs[j] = _mm512_shuffle_i32x4(low, lowNext, 0x88);
        pairs[4 + j] = _mm512_shuffle_i32x4(low, lowNext, 0xDD);
        pairs[8 + j] = _mm512_shuffle_i32x4(high, highNext, 0x88);
        pairs[12 + j] = _mm512_shuffle_i32x4(high, highNext, 0xDD);
    }
    for (int i = 0; i < 16; i++) rows[i] = pairs[i];
}

typedef struct {
    csha256_state *states;
    const uint8_t *const *data;
    size_t blocks;
} SixteenArguments;

SIXTEEN_TARGET static void sixteenBody(void *context) {
    SixteenArguments *arguments = context;
    const Words byteSwap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
    Words state[8];
    for (int w = 0; w < 8; w++) {
        uint32_t column[16];
        for (int i = 0; i < 16; i++) column[i] = arguments->states[i].words[w];
        state[w] = _mm512_loadu_si512(column);
    }
    for (size_t block = 0; block < arguments->blocks; block++) {
        Words schedule[16];
        for (int i = 0; i < 16; i++) schedule[i] = _mm512_loadu_si512(arguments->data[i] + 64 * block);
        transpose(schedule);
        for (int t = 0; t < 16; t++) schedule[t] = _mm512_shuffle_epi8(schedule[t], byteSwap);
        Words a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6], h = state[7];
#pragma clang loop unroll(full)
        for (int t = 0; t < 64; t++) {
            Words word = schedule[t & 15];
            if (t >= 16) {
                Words early = schedule[(t - 15) & 15], late = schedule[(t - 2) & 15];
                Words sigma0 = XOR3(ROTATE(early, 7), ROTATE(early, 18), _mm512_srli_epi32(early, 3));
                Words sigma1 = XOR3(ROTATE(late, 17), ROTATE(late, 19), _mm512_srli_epi32(late, 10));
                word = ADD(ADD(word, sigma0), ADD(schedule[(t - 7) & 15], sigma1));
                schedule[t & 15] = word;
            }
            Words sum1 = XOR3(ROTATE(e, 6), ROTATE(e, 11), ROTATE(e, 25));
            Words first = ADD(ADD(h, sum1), ADD(CHOOSE(e, f, g), ADD(word, _mm512_set1_epi32((int)csha256_roundConstants[t]))));
            Words second = ADD(XOR3(ROTATE(a, 2), ROTATE(a, 13), ROTATE(a, 22)), MAJORITY(a, b, c));
            h = g; g = f; f = e; e = ADD(d, first);
            d = c; c = b; b = a; a = ADD(first, second);
        }
        state[0] = ADD(state[0], a); state[1] = ADD(state[1], b); state[2] = ADD(state[2], c); state[3] = ADD(state[3], d);
        state[4] = ADD(state[4], e); state[5] = ADD(state[5], f); state[6] = ADD(state[6], g); state[7] = ADD(state[7], h);
    }
    for (int w = 0; w < 8; w++) {
        uint32_t column[16];
        _mm512_storeu_si512(column, state[w]);
        for (int i = 0; i < 16; i++) arguments->states[i].words[w] = column[i];
    }
}

int csha256_sixteen_supported(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
    // The OS must save the vector registers' full state: SSE, AVX, and the three AVX-512 parts (XCR0 bits 1, 2, 5–7).
    uint32_t enabledLow, enabledHigh;
    __asm__ volatile("xgetbv" : "=a"(enabledLow), "=d"(enabledHigh) : "c"(0));
    if ((enabledLow & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx & bit_AVX512F) && (ebx & bit_AVX512BW) ? 1 : 0;
}

int csha256_blocks_sixteen(csha256_state states[16], const uint8_t *const data[16], size_t blocks) {
    SixteenArguments arguments = {states, data, blocks};
    return csha256_guarded(sixteenBody, &arguments);
}

#else

int csha256_sixteen_supported(void) { return 0; }
int csha256_blocks_sixteen(csha256_state states[16], const uint8_t *const data[16], size_t blocks) {
    (void)states; (void)data; (void)blocks;
    return 0;
}

#endif
