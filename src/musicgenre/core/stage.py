"""What every DVC stage script shares: one-line errors and a non-zero exit."""

from __future__ import annotations

import sys
from collections.abc import Callable

from musicgenre.core.errors import MusicGenreError


def run_stage(name: str, main: Callable[[], None]) -> None:
    from musicgenre.core.process import restore_interrupts, tune_allocator

    restore_interrupts()  # Ctrl-C stops the stage, whatever its parent ignores
    tune_allocator()  # the stages' big tensors and arrays: no page zeroing per track
    try:
        main()
    except MusicGenreError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        sys.exit(130)
