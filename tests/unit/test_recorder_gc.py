"""The recorder process makes the cyclic GC rare (arb.recorder.recorder.tune_gc)."""

from __future__ import annotations

import gc

from arb.recorder.recorder import GC_THRESHOLDS, tune_gc


def test_tune_gc_makes_collections_rare_and_hands_back_the_old_thresholds():
    before = gc.get_threshold()
    try:
        assert tune_gc() == before
        assert gc.get_threshold() == GC_THRESHOLDS and GC_THRESHOLDS[0] > before[0]
        assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
