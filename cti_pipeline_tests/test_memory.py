"""Garbage collection during an ingestion: only when asked, only among the ingestion's own objects."""

import gc
import weakref

from cti_pipeline.memory import collect_only_when_asked, release_freed_memory


class Node:
    def __init__(self):
        self.other = None


def make_cycle() -> weakref.ref:
    first, second = Node(), Node()
    first.other, second.other = second, first
    return weakref.ref(first)


def test_inside_only_an_explicit_release_collects_and_the_objects_from_before_are_left_out():
    gc.collect()  # counts back to zero: no automatic collection before the block starts
    before = make_cycle()  # garbage that already existed: frozen, left for after the ingestion
    with collect_only_when_asked():
        assert not gc.isenabled() and gc.get_freeze_count() > 0
        inside = make_cycle()
        for _ in range(20_000):  # enough allocations to trigger automatic collections, were they on
            Node()
        assert inside() is not None
        release_freed_memory()
        assert inside() is None
        assert before() is not None
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.collect()
    assert before() is None


def test_a_collector_disabled_before_stays_disabled_after():
    gc.disable()
    try:
        with collect_only_when_asked():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
