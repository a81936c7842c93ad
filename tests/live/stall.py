#!/usr/bin/env python3
"""Stops one thread of a running process, for real, for a while, then lets it run on: the
thread named NAME in /proc/PID/task/*/comm is seized with ptrace (PTRACE_SEIZE), stopped
(PTRACE_INTERRUPT, then waitpid with __WALL until the kernel reports it stopped), kept stopped
for SECONDS and let go (PTRACE_DETACH). The process's other threads run on meanwhile.

    stall.py PID NAME SECONDS

Prints "stopped TID" once the thread is stopped and "resumed TID" once it runs again. Needs
CAP_SYS_PTRACE or the same user as a dumpable PID (root has both). Waits up to 10 s for the
thread to exist.
"""
import ctypes
import os
import sys
import time

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


def ptrace(request, tid):
    if libc.ptrace(request, tid, None, None) == -1:
        error = ctypes.get_errno()
        sys.exit(f"stall.py: ptrace({request:#x}, {tid}): {os.strerror(error)}")


def find_thread(pid, name):
    """The id of PID's thread named NAME, waiting up to 10 s for it to start."""
    deadline = time.monotonic() + 10
    while True:
        names = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as comm:
                    names[int(tid)] = comm.read().strip()
            except FileNotFoundError:
                pass
        found = [tid for tid, comm in names.items() if comm == name]
        if len(found) == 1:
            return found[0]
        if len(found) > 1 or time.monotonic() > deadline:
            sys.exit(f"stall.py: {len(found)} threads named {name!r} in {pid}: {names}")
        time.sleep(0.1)


def state(tid):
    with open(f"/proc/{tid}/status") as status:
        return next(line.split(":", 1)[1].strip() for line in status if line.startswith("State:"))


def main():
    pid, name, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    tid = find_thread(pid, name)
    ptrace(PTRACE_SEIZE, tid)
    ptrace(PTRACE_INTERRUPT, tid)
    _, status = os.waitpid(tid, WALL)
    if not os.WIFSTOPPED(status):
        sys.exit(f"stall.py: thread {tid} did not stop: wait status {status:#x}")
    if not state(tid).startswith("t"):
        sys.exit(f"stall.py: thread {tid} is {state(tid)!r}, not in a tracing stop")
    print(f"stopped {tid}", flush=True)
    # The stall itself, in real time: what the caller tests is what the thread misses meanwhile.
    time.sleep(seconds)
    ptrace(PTRACE_DETACH, tid)
    print(f"resumed {tid}", flush=True)


main()
