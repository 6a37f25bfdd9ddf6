#!/usr/bin/env python3
"""How much more it costs this machine to write memory for the first time than to write it again.

On a VM whose host takes freed guest memory back (free page reporting, a balloon), the first touch of a
page the guest had freed faults into the host. Page-cache pages are such pages: a cold read, a copy or an
import fills fresh ones, and a FUSE mount fills a second set for its own cache. Prints, for 1 GiB of
anonymous memory mapped afresh each round: the first write, then a rewrite of the same pages.
"""
import mmap
import time

SIZE = 1 << 30
BLOCK = b"\x01" * (64 << 20)


def fill(mapping):
    started = time.perf_counter()
    for offset in range(0, SIZE, len(BLOCK)):
        mapping[offset:offset + len(BLOCK)] = BLOCK
    return time.perf_counter() - started


for round_number in range(1, 4):
    mapping = mmap.mmap(-1, SIZE)
    first, again = fill(mapping), fill(mapping)
    mapping.close()
    print(f"round {round_number}: first write of 1 GiB {first:.3f} s, rewrite {again:.3f} s ({first / again:.1f}x)")
