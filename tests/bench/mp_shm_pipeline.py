"""A Python multiprocessing pipeline done with care: cvpipe's own shape in Python. Frames go into
multiprocessing.shared_memory slots, and only slot indices travel over queues, to one process per
core (one OpenCV thread each); the main process reads, hands out free slots and restores the order.

usage: mp_shm_pipeline.py CLIP CHAIN EXPECTED_FRAMES
Prints {"frames": N, "first_s": T, "last_s": T}: when the first and last results came back in
order (time.monotonic()), for the benchmark's rate once running.
"""
import json
import multiprocessing as mp
import sys
import time
from multiprocessing import shared_memory

import cv2
import numpy as np

from chains import CHAINS

SLOTS = 8  # frames in flight, as cvpipe's default for two workers


def worker(chain, frames_name, results_name, shape, todo, done):
    cv2.setNumThreads(1)
    frames_shm = shared_memory.SharedMemory(name=frames_name)
    results_shm = shared_memory.SharedMemory(name=results_name)
    frames = np.ndarray((SLOTS,) + shape, np.uint8, frames_shm.buf)
    results = np.ndarray((SLOTS,) + shape[:2], np.uint8, results_shm.buf)
    while (slot := todo.get()) is not None:
        results[slot] = CHAINS[chain](frames[slot])  # both chains end in a 1-channel edge map
        done.put(slot)
    del frames, results
    frames_shm.close()
    results_shm.close()


def main():
    clip, chain, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cap = cv2.VideoCapture(clip, cv2.CAP_FFMPEG)
    ok, frame = cap.read()
    if not ok:
        sys.exit(f"mp_shm_pipeline: cannot read {clip}")
    shape = frame.shape
    frames_shm = shared_memory.SharedMemory(create=True, size=SLOTS * frame.nbytes)
    results_shm = shared_memory.SharedMemory(create=True, size=SLOTS * shape[0] * shape[1])
    frames = np.ndarray((SLOTS,) + shape, np.uint8, frames_shm.buf)
    todo, done = mp.Queue(), mp.Queue()
    procs = [mp.Process(target=worker, args=(chain, frames_shm.name, results_shm.name, shape, todo, done))
             for _ in range(mp.cpu_count())]
    for p in procs:
        p.start()
    free, seq_of, finished = list(range(SLOTS)), {}, {}
    sent = written = 0
    first = last = None
    try:
        while ok or seq_of:
            while ok and free:
                slot = free.pop()
                frames[slot] = frame
                seq_of[slot] = sent
                sent += 1
                todo.put(slot)
                ok, frame = cap.read()
            slot = done.get()
            finished[seq_of.pop(slot)] = slot
            while written in finished:  # in capture order
                free.append(finished.pop(written))
                written += 1
                last = time.monotonic()
                first = first or last
    finally:
        for _ in procs:
            todo.put(None)
        for p in procs:
            p.join()
        del frames
        frames_shm.close()
        frames_shm.unlink()
        results_shm.close()
        results_shm.unlink()
    if written != expected:
        sys.exit(f"mp_shm_pipeline: got {written} frames, expected {expected}")
    print(json.dumps({"frames": written, "first_s": first, "last_s": last}))


if __name__ == "__main__":
    main()
