// The least time an import of Manta's design can take on this machine, without Manta: the work the design
// requires and nothing else. Each file over one chunk gets its whole-file SHA-256 on a thread of its own; a lane
// hashes the chunk ids (fixed 4 MiB blocks) two at a time with the project's SHA-NI code (Sources/CSHA256); two
// writer threads copy each chunk 1 MiB at a time into an aligned buffer, write it past the page cache into a
// temporary file and rename it to its id; one syncfs at the end. No argument parsing, database, manifest or
// Swift runtime start-up. Used by floor.sh, which compares it with `cp -r` + `sync` and `manta import`.
//
// Usage: floor <source folder> <output folder> [--no-ids] [--no-writes]
//   --no-ids     skip the chunk ids (one SHA-256 pass instead of two): below what any import of the design needs
//   --no-writes  hash only: the CPU floor alone
//   --sixteen    the chunk ids sixteen at a time in AVX-512's lanes (largest chunks first), where the CPU has it
#define _GNU_SOURCE
#include "CSHA256.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { chunkBytes = 4 << 20, pieceBytes = 1 << 20, maxChunks = 1 << 16, maxFiles = 4096, pageBytes = 4096 };

typedef struct {
    char path[4096];
    off_t size;
} File;

typedef struct {
    int file;
    off_t offset;
    size_t length;
    uint8_t id[32];
} Chunk;

typedef struct {
    uint8_t *base;
    size_t length;
    const uint8_t *bytes;
} Mapping;

static File files[maxFiles];
static int fileCount;
static Chunk chunks[maxChunks];
static int chunkCount;
static const char *output;
static bool chunkIDs = true, writes = true, sixteen = false;

// Chunks hashed and waiting for a writer: at most two per writer, as in `manta import`.
static int handed[maxChunks];
static int handedCount, takenCount;
static pthread_mutex_t handover = PTHREAD_MUTEX_INITIALIZER;
static sem_t waiting, permits;

static void fail(const char *what, const char *path) {
    fprintf(stderr, "floor: %s %s: ", what, path);
    perror(NULL);
    exit(1);
}

static void list(const char *folder) {
    DIR *directory = opendir(folder);
    if (!directory) fail("cannot list", folder);
    struct dirent *entry;
    while ((entry = readdir(directory))) {
        const char *name = entry->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, ".git") || !strcmp(name, ".cache")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", folder, name);
        struct stat info;
        if (stat(path, &info)) fail("cannot stat", path);
        if (S_ISDIR(info.st_mode)) {
            list(path);
        } else if (S_ISREG(info.st_mode)) {
            if (fileCount == maxFiles) fail("too many files in", folder);
            snprintf(files[fileCount].path, sizeof files[fileCount].path, "%s", path);
            files[fileCount++].size = info.st_size;
        }
    }
    closedir(directory);
}

static Mapping map(const char *path, off_t offset, size_t length) {
    Mapping mapping = {0};
    if (!length) return mapping;
    int descriptor = open(path, O_RDONLY);
    if (descriptor < 0) fail("cannot open", path);
    off_t lead = offset % pageBytes;
    mapping.length = length + lead;
    mapping.base = mmap(NULL, mapping.length, PROT_READ, MAP_SHARED, descriptor, offset - lead);
    if (mapping.base == MAP_FAILED) fail("cannot map", path);
    close(descriptor);
    mapping.bytes = mapping.base + lead;
    return mapping;
}

static void unmap(Mapping mapping) {
    if (mapping.base) munmap(mapping.base, mapping.length);
}

static void *hashWholeFile(void *argument) {
    const File *file = argument;
    csha256_state state;
    csha256_begin(&state);
    uint8_t digest[32];
    for (off_t done = 0; done < file->size;) {
        size_t length = (size_t)(file->size - done) < pieceBytes ? (size_t)(file->size - done) : pieceBytes;
        Mapping window = map(file->path, done, length);
        csha256_blocks(&state, window.bytes, length / 64);
        if (done + (off_t)length == file->size) csha256_end(&state, window.bytes + length / 64 * 64, length % 64, file->size, digest);
        unmap(window);
        done += length;
    }
    return NULL;
}

static void writeChunk(const Chunk *chunk, uint8_t *buffer, int index) {
    char folder[4096], temporary[4200], final[4200];
    snprintf(folder, sizeof folder, "%s/%02x", output, chunk->id[0]);
    mkdir(folder, 0755);
    snprintf(temporary, sizeof temporary, "%s/.tmp-%d", folder, index);
    int descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0444);
    if (descriptor < 0) fail("cannot create", temporary);
    Mapping source = map(files[chunk->file].path, chunk->offset, chunk->length);
    for (size_t at = 0; at < chunk->length; at += pieceBytes) {
        size_t length = chunk->length - at < pieceBytes ? chunk->length - at : pieceBytes;
        size_t whole = length & ~(size_t)(pageBytes - 1);
        memcpy(buffer, source.bytes + at, length);
        if (whole) {
            fcntl(descriptor, F_SETFL, O_DIRECT);
            if (pwrite(descriptor, buffer, whole, at) != (ssize_t)whole) fail("cannot write", temporary);
            fcntl(descriptor, F_SETFL, 0);
        }
        if (length > whole && pwrite(descriptor, buffer + whole, length - whole, at + whole) != (ssize_t)(length - whole)) fail("cannot write", temporary);
    }
    unmap(source);
    close(descriptor);
    int named = snprintf(final, sizeof final, "%s/", folder);
    for (int byte = 0; byte < 32; byte++) named += snprintf(final + named, sizeof final - named, "%02x", chunk->id[byte]);
    if (rename(temporary, final)) fail("cannot rename", temporary);
}

static void *writer(void *unused) {
    (void)unused;
    uint8_t *buffer = aligned_alloc(2 << 20, pieceBytes);
    for (;;) {
        sem_wait(&waiting);
        pthread_mutex_lock(&handover);
        int index = takenCount < handedCount ? handed[takenCount++] : -1;
        pthread_mutex_unlock(&handover);
        if (index < 0) break;
        writeChunk(&chunks[index], buffer, index);
        sem_post(&permits);
    }
    free(buffer);
    return NULL;
}

static void hand(int index) {
    if (!writes) return;
    sem_wait(&permits);
    pthread_mutex_lock(&handover);
    handed[handedCount++] = index;
    pthread_mutex_unlock(&handover);
    sem_post(&waiting);
}

static void hashIDs(Chunk *first, Chunk *second) {
    if (!chunkIDs) {
        // Distinct names, so the writes create as many files as the real ids would.
        int index = (int)(first - chunks);
        memset(first->id, 0, 32);
        first->id[0] = index, first->id[1] = index >> 8;
        if (second) memset(second->id, 0, 32), second->id[0] = index + 1, second->id[1] = (index + 1) >> 8;
        return;
    }
    Mapping a = map(files[first->file].path, first->offset, first->length);
    Mapping b = second ? map(files[second->file].path, second->offset, second->length) : (Mapping){0};
    csha256_state stateA, stateB;
    csha256_begin(&stateA);
    csha256_begin(&stateB);
    size_t blocksA = first->length / 64, blocksB = second ? second->length / 64 : 0;
    size_t paired = blocksA < blocksB ? blocksA : blocksB;
    if (paired) csha256_blocks_pair(&stateA, a.bytes, &stateB, b.bytes, paired);
    csha256_blocks(&stateA, a.bytes + 64 * paired, blocksA - paired);
    csha256_end(&stateA, a.bytes + 64 * blocksA, first->length % 64, first->length, first->id);
    if (second) {
        csha256_blocks(&stateB, b.bytes + 64 * paired, blocksB - paired);
        csha256_end(&stateB, b.bytes + 64 * blocksB, second->length % 64, second->length, second->id);
    }
    unmap(a);
    unmap(b);
}

// Hashes chunks [start, start + count) (count at most 16) in the vector lanes as far as the shortest goes, then
// each one's rest alone; the unused lanes repeat the first's bytes.
static void hashSixteenIDs(int start, int count) {
    Mapping mappings[16];
    csha256_state states[16];
    const uint8_t *data[16];
    size_t shortest = (size_t)-1;
    for (int lane = 0; lane < 16; lane++) {
        csha256_begin(&states[lane]);
        if (lane < count) {
            const Chunk *chunk = &chunks[start + lane];
            mappings[lane] = map(files[chunk->file].path, chunk->offset, chunk->length);
            if (chunk->length / 64 < shortest) shortest = chunk->length / 64;
        }
        data[lane] = lane < count ? mappings[lane].bytes : mappings[0].bytes;
    }
    if (shortest && data[0]) csha256_blocks_sixteen(states, data, shortest);
    for (int lane = 0; lane < count; lane++) {
        Chunk *chunk = &chunks[start + lane];
        size_t blocks = chunk->length / 64;
        csha256_blocks(&states[lane], data[lane] + 64 * shortest, blocks - shortest);
        csha256_end(&states[lane], data[lane] + 64 * blocks, chunk->length % 64, chunk->length, chunk->id);
        unmap(mappings[lane]);
    }
}

static int longerFirst(const void *left, const void *right) {
    size_t a = ((const Chunk *)left)->length, b = ((const Chunk *)right)->length;
    return a < b ? 1 : a > b ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: floor <source folder> <output folder> [--no-ids] [--no-writes]\n");
        return 2;
    }
    for (int argument = 3; argument < argc; argument++) {
        if (!strcmp(argv[argument], "--no-ids")) chunkIDs = false;
        else if (!strcmp(argv[argument], "--no-writes")) writes = false;
        else if (!strcmp(argv[argument], "--sixteen")) sixteen = csha256_sixteen_supported() == 1;
        else fail("unknown option", argv[argument]);
    }
    output = argv[2];
    if (mkdir(output, 0755) && access(output, W_OK)) fail("cannot create", output);
    list(argv[1]);
    for (int file = 0; file < fileCount; file++) {
        off_t offset = 0;
        do {
            if (chunkCount == maxChunks) fail("too many chunks in", argv[1]);
            Chunk *chunk = &chunks[chunkCount++];
            chunk->file = file;
            chunk->offset = offset;
            chunk->length = (size_t)(files[file].size - offset) < chunkBytes ? (size_t)(files[file].size - offset) : chunkBytes;
            offset += chunkBytes;
        } while (offset < files[file].size);
    }
    sem_init(&waiting, 0, 0);
    sem_init(&permits, 0, 4);
    pthread_t wholeFileThreads[maxFiles], writerThreads[2];
    int wholeFileCount = 0;
    for (int file = 0; file < fileCount; file++)
        if (files[file].size > chunkBytes) pthread_create(&wholeFileThreads[wholeFileCount++], NULL, hashWholeFile, &files[file]);
    if (writes)
        for (int thread = 0; thread < 2; thread++) pthread_create(&writerThreads[thread], NULL, writer, NULL);
    if (sixteen && chunkIDs) {
        qsort(chunks, chunkCount, sizeof chunks[0], longerFirst);
        for (int start = 0; start < chunkCount; start += 16) {
            int count = chunkCount - start < 16 ? chunkCount - start : 16;
            hashSixteenIDs(start, count);
            for (int index = start; index < start + count; index++) hand(index);
        }
    } else
    for (int index = 0; index < chunkCount; index += 2) {
        Chunk *second = index + 1 < chunkCount ? &chunks[index + 1] : NULL;
        hashIDs(&chunks[index], second);
        hand(index);
        if (second) hand(index + 1);
    }
    if (writes) {
        for (int thread = 0; thread < 2; thread++) sem_post(&waiting);
        for (int thread = 0; thread < 2; thread++) pthread_join(writerThreads[thread], NULL);
    }
    for (int thread = 0; thread < wholeFileCount; thread++) pthread_join(wholeFileThreads[thread], NULL);
    int root = open(output, O_RDONLY);
    if (root < 0 || syncfs(root)) fail("cannot sync", output);
    close(root);
    return 0;
}
