"""A time limit on a learner's code, for the exercise checkers and the homework graders.

    with time_limit(20) as expired:   # raises `expired` (a TimeUp) in the block after 20 s
        answer = your_function(x)

In the main thread of Linux and macOS (a Jupyter kernel, pytest) the alarm is SIGALRM through
signal.setitimer: it also stops time.sleep and input(). Elsewhere (Windows, or another thread) a
watchdog thread raises the exception in the calling thread with PyThreadState_SetAsyncExc. Both are
seen only between Python bytecodes: one long torch operation (a huge matmul) runs to its end before
the limit stops the code around it, which is why the graders check shapes before any work. Where
neither works (no ctypes.pythonapi, as on PyPy), the block runs without a limit.
"""

import ctypes
import signal
import threading
import time
from contextlib import contextmanager


class TimeUp(BaseException):
    """Raised inside the learner's code when its time is up. A BaseException, so that an `except Exception`
    in the learner's loop cannot swallow it; each time_limit raises a subclass of its own."""


class TimeLimitError(Exception):
    """What a checker raises (and reports) when the learner's function ran out of time."""


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _alarm(seconds: float, expired: type):
    armed = [True]

    def on_alarm(signum, frame):
        if armed[0]:
            raise expired(f"no answer after {seconds:g} s")

    # An outer alarm (pytest-timeout's, or an enclosing time_limit) is kept: when it is due first, it
    # stays armed and ours is not set; otherwise it is set again, less the time spent, on the way out.
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, 0)
    if outer_delay and outer_delay <= seconds:
        signal.setitimer(signal.ITIMER_REAL, outer_delay, outer_interval)
        yield
        return
    outer_handler = signal.signal(signal.SIGALRM, on_alarm)
    start = time.monotonic()
    try:
        # It fires again every 0.5 s, in case the learner's code caught the first with a bare `except:`. (One
        # that catches it on every lap of an endless loop keeps it running, as it would catch Ctrl-C.)
        signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
        try:
            yield
        finally:
            armed[0] = False  # from here on a late alarm does nothing
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_delay:
            left = max(outer_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


@contextmanager
def _watchdog(seconds: float, expired: type):
    target = ctypes.c_ulong(threading.get_ident())
    lock, armed, done = threading.Lock(), [True], threading.Event()

    def watch():
        # Repeats, like the alarm's interval, in case the learner's code swallows the first one.
        for wait in [seconds] + [0.5] * 1000:
            if done.wait(wait):
                return
            with lock:
                if armed[0]:
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(expired))

    watcher = threading.Thread(target=watch, daemon=True, name="minidiff time limit")
    watcher.start()
    try:
        try:
            yield
        finally:
            with lock:
                armed[0] = False
                # An exception set but not yet raised would surface in the caller's code: take it back.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)
    finally:
        done.set()


@contextmanager
def time_limit(seconds: float):
    """Raise the yielded TimeUp subclass inside the block once it has run `seconds` (see the module's docstring)."""
    expired = type("TimeUp", (TimeUp,), {"seconds": seconds})
    if _can_alarm():
        with _alarm(seconds, expired):
            yield expired
    elif hasattr(ctypes, "pythonapi"):
        with _watchdog(seconds, expired):
            yield expired
    else:
        yield expired
