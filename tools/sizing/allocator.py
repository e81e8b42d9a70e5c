"""A replay of PyTorch's CUDA caching allocator (standard library only).

`benchmarks/vram/meta_trace.py` records the order in which a real transformers forward
allocates and frees tensors (on the meta device: no GPU, no memory). Replaying that order here
gives what `torch.cuda.max_memory_reserved()` would show: the segments the allocator asked
the driver for, including the blocks it keeps cached but cannot reuse. The rules are those
of `c10/cuda/CUDACachingAllocator.cpp` with default settings (no `PYTORCH_CUDA_ALLOC_CONF`):

- every request is rounded up to a multiple of 512 bytes;
- requests of at most 1 MiB come from the small pool, carved out of 2 MiB segments;
- larger requests come from the large pool: below 10 MiB out of 20 MiB segments, from
  10 MiB up in a segment of their own, rounded up to 2 MiB;
- a free block is chosen best-fit (smallest that holds the request, then lowest address);
- a block is split only when the rest is at least 512 bytes (small pool) or more than
  1 MiB (large pool), so up to 1 MiB of a large block can go unused;
- a freed block merges with free neighbours of its own segment; segments are given back
  only by `empty_cache()`, which releases those with nothing allocated in them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

MIN_BLOCK = 512
SMALL_SIZE = 1 << 20
SMALL_BUFFER = 2 << 20
LARGE_BUFFER = 20 << 20
MIN_LARGE_ALLOC = 10 << 20
ROUND_LARGE = 2 << 20


def round_size(size: int) -> int:
    """What the allocator actually reserves for a request of `size` bytes."""
    return max(MIN_BLOCK, -(-size // MIN_BLOCK) * MIN_BLOCK)


def segment_size(size: int) -> int:
    """The size of the segment that a request too big for every free block gets."""
    if size <= SMALL_SIZE:
        return SMALL_BUFFER
    if size < MIN_LARGE_ALLOC:
        return LARGE_BUFFER
    return -(-size // ROUND_LARGE) * ROUND_LARGE


@dataclass
class Block:
    segment: int
    offset: int
    size: int
    small: bool
    free: bool = True
    prev: Block | None = None
    next: Block | None = None

    def key(self) -> tuple[int, int, int]:
        return (self.size, self.segment, self.offset)


@dataclass
class Allocator:
    """The allocator's state; `allocate`/`free` mirror `malloc`/`free` of a tensor storage."""

    pools: dict[bool, list[tuple[int, int, int]]] = field(
        default_factory=lambda: {True: [], False: []}
    )
    free_blocks: dict[tuple[int, int, int], Block] = field(
        default_factory=dict[tuple[int, int, int], Block]
    )
    segments: dict[int, int] = field(default_factory=dict[int, int])
    live: dict[int, Block] = field(default_factory=dict[int, Block])
    allocated: int = 0
    reserved: int = 0
    peak_allocated: int = 0
    peak_reserved: int = 0
    _next_segment: int = 0

    def _insert(self, block: Block) -> None:
        block.free = True
        bisect.insort(self.pools[block.small], block.key())
        self.free_blocks[block.key()] = block

    def _remove(self, block: Block) -> None:
        pool = self.pools[block.small]
        del pool[bisect.bisect_left(pool, block.key())]
        del self.free_blocks[block.key()]

    def _best_fit(self, size: int, small: bool) -> Block | None:
        pool = self.pools[small]
        i = bisect.bisect_left(pool, (size, -1, -1))
        return self.free_blocks[pool[i]] if i < len(pool) else None

    def _new_segment(self, size: int, small: bool) -> Block:
        seg = self._next_segment
        self._next_segment += 1
        length = segment_size(size)
        self.segments[seg] = length
        self.reserved += length
        self.peak_reserved = max(self.peak_reserved, self.reserved)
        return Block(seg, 0, length, small)

    def allocate(self, handle: int, nbytes: int) -> None:
        size = round_size(nbytes)
        small = size <= SMALL_SIZE
        block = self._best_fit(size, small)
        if block is not None:
            self._remove(block)
        else:
            block = self._new_segment(size, small)
        rest = block.size - size
        if rest >= MIN_BLOCK if small else rest > SMALL_SIZE:
            tail = Block(
                block.segment, block.offset + size, rest, small, prev=block, next=block.next
            )
            if block.next is not None:
                block.next.prev = tail
            block.next, block.size = tail, size
            self._insert(tail)
        block.free = False
        self.live[handle] = block
        self.allocated += block.size
        self.peak_allocated = max(self.peak_allocated, self.allocated)

    def free(self, handle: int) -> None:
        block = self.live.pop(handle)
        self.allocated -= block.size
        for neighbour in (block.prev, block.next):
            if neighbour is not None and neighbour.free:
                self._remove(neighbour)
                self._merge(block, neighbour)
        self._insert(block)

    @staticmethod
    def _merge(block: Block, other: Block) -> None:
        if other is block.prev:
            block.offset, block.prev = other.offset, other.prev
            if other.prev is not None:
                other.prev.next = block
        else:
            block.next = other.next
            if other.next is not None:
                other.next.prev = block
        block.size += other.size

    def empty_cache(self) -> None:
        """Give back every segment with nothing allocated in it."""
        for key in [k for k, b in self.free_blocks.items() if b.prev is None and b.next is None]:
            block = self.free_blocks[key]
            self._remove(block)
            self.reserved -= self.segments.pop(block.segment)

    def reset_peak(self) -> None:
        self.peak_allocated, self.peak_reserved = self.allocated, self.reserved
