"""The garbage collector pause around bulk work always gives the collector back."""

from __future__ import annotations

import gc

import pytest

from unisafe_pytest.pytest_plugin.heap import paused


def test_paused_restores_the_collector_even_on_error() -> None:
    assert gc.isenabled()
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), paused():
        raise KeyError("boom")
    assert gc.isenabled()


def test_paused_keeps_a_collector_the_caller_turned_off() -> None:
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
