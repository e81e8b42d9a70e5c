"""The replay of PyTorch's CUDA caching allocator, rule by rule (c10/cuda/CUDACachingAllocator.cpp,
default settings), on sequences small enough to work out by hand."""

from __future__ import annotations

from tools.sizing.allocator import Allocator, round_size, segment_size

_MIB = 1 << 20


def test_requests_round_up_to_512_bytes() -> None:
    assert [round_size(n) for n in (1, 512, 513, 4096)] == [512, 512, 1024, 4096]


def test_segment_sizes_follow_the_pools() -> None:
    assert segment_size(1000) == 2 * _MIB  # small pool: 2 MiB segments
    assert segment_size(_MIB) == 2 * _MIB
    assert segment_size(_MIB + 512) == 20 * _MIB  # large, below 10 MiB: 20 MiB buffers
    assert segment_size(10 * _MIB) == 10 * _MIB  # from 10 MiB: own segment, 2 MiB multiple
    assert segment_size(10 * _MIB + 1) == 12 * _MIB


def test_small_requests_share_one_small_segment() -> None:
    a = Allocator()
    for handle in range(4):
        a.allocate(handle, 100_000)
    assert a.reserved == 2 * _MIB
    assert a.allocated == 4 * round_size(100_000)


def test_a_large_block_is_not_split_when_at_most_1_mib_would_be_left() -> None:
    a = Allocator()
    a.allocate(1, 12 * _MIB - 512 * 1024)  # 11.5 MiB: a 12 MiB segment, 0.5 MiB left whole
    assert a.reserved == 12 * _MIB
    assert a.allocated == 12 * _MIB  # the unsplit half MiB counts as allocated


def test_a_freed_block_is_reused_best_fit_and_split() -> None:
    a = Allocator()
    a.allocate(1, 2 * _MIB)  # from a 20 MiB buffer
    a.allocate(2, 3 * _MIB)
    a.free(1)
    # The freed 2 MiB hole is the best fit; less than 1 MiB would be left, so it is not split.
    a.allocate(3, _MIB + 512)
    assert (a.reserved, a.allocated) == (20 * _MIB, 5 * _MIB)
    a.allocate(4, 14 * _MIB)  # the 15 MiB tail: exactly 1 MiB would be left, so no split
    assert (a.reserved, a.allocated) == (20 * _MIB, 20 * _MIB)
    a.free(4)
    a.allocate(5, 13 * _MIB)  # 2 MiB would be left: split
    assert a.allocated == 18 * _MIB


def test_frees_merge_with_free_neighbours_so_a_bigger_request_fits() -> None:
    a = Allocator()
    for handle in range(1, 4):
        a.allocate(handle, 6 * _MIB)  # 18 MiB of one 20 MiB buffer
    a.free(1)
    a.free(2)  # merges with 1: a 12 MiB hole
    a.allocate(5, 11 * _MIB)  # own-segment size, but the 12 MiB hole serves it
    assert a.reserved == 20 * _MIB


def test_a_request_no_free_block_holds_gets_a_new_segment_and_the_peak_records_it() -> None:
    a = Allocator()
    a.allocate(1, 30 * _MIB)
    a.free(1)
    a.allocate(2, 40 * _MIB)
    assert (a.reserved, a.peak_reserved) == (70 * _MIB, 70 * _MIB)
    a.empty_cache()  # the free 30 MiB segment goes back; the live one stays
    assert a.reserved == 40 * _MIB
    assert a.peak_reserved == 70 * _MIB
    a.reset_peak()
    assert a.peak_reserved == 40 * _MIB
