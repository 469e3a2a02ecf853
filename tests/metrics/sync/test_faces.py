"""Face-mesh helpers shared by the lip-sync metrics."""

import os
import threading

from harmony_bench.metrics.sync.faces import _native_stderr_silenced


def _fd2_target() -> str:
    return os.readlink("/proc/self/fd/2")


def test_overlapping_silences_on_two_threads_give_stderr_back():
    before = _fd2_target()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():  # enters first, leaves first
        with _native_stderr_silenced():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():  # enters while the first is silenced, leaves after it
        first_in.wait(10)
        with _native_stderr_silenced():
            second_in.set()
            first_out.wait(10)
            seen.append(_fd2_target())  # still silenced while a graph lives

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [os.devnull]
    assert _fd2_target() == before  # an uncounted save/restore leaves fd 2 on /dev/null here
