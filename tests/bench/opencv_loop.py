"""A plain sequential OpenCV loop, OpenCV's own threading left on: what most people write first.

usage: opencv_loop.py CLIP CHAIN EXPECTED_FRAMES
Prints {"frames": N, "first_s": T, "last_s": T}: when the first and last results came out
(time.monotonic()), for the benchmark's rate once running.
"""
import json
import sys
import time

import cv2

from chains import CHAINS


def main():
    clip, chain, expected = sys.argv[1], CHAINS[sys.argv[2]], int(sys.argv[3])
    cap = cv2.VideoCapture(clip, cv2.CAP_FFMPEG)
    n, first, last = 0, None, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        chain(frame)
        last = time.monotonic()
        first = first or last
        n += 1
    if n != expected:
        sys.exit(f"opencv_loop: read {n} frames, expected {expected}")
    print(json.dumps({"frames": n, "first_s": first, "last_s": last}))


if __name__ == "__main__":
    main()
