"""A Python multiprocessing pipeline the way most tutorials teach it: the main process reads frames
and a Pool of one process per core processes them with imap (in order), frames pickled both ways.

usage: mp_pipeline.py CLIP CHAIN EXPECTED_FRAMES
Prints {"frames": N, "first_s": T, "last_s": T}: when the first and last results came back
(time.monotonic()), for the benchmark's rate once running.
"""
import json
import multiprocessing as mp
import sys
import time

import cv2

from chains import CHAINS

CHAIN = None


def init(name):
    global CHAIN
    CHAIN = CHAINS[name]


def process(frame):
    return CHAIN(frame)


def frames(clip):
    cap = cv2.VideoCapture(clip, cv2.CAP_FFMPEG)
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield frame


def main():
    clip, chain, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n, first, last = 0, None, None
    with mp.Pool(mp.cpu_count(), initializer=init, initargs=(chain,)) as pool:
        for _ in pool.imap(process, frames(clip), chunksize=4):
            last = time.monotonic()
            first = first or last
            n += 1
    if n != expected:
        sys.exit(f"mp_pipeline: got {n} frames, expected {expected}")
    print(json.dumps({"frames": n, "first_s": first, "last_s": last}))


if __name__ == "__main__":
    main()
