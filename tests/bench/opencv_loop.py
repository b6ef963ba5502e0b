"""A plain sequential OpenCV loop, OpenCV's own threading left on: what most people write first.

usage: opencv_loop.py CLIP CHAIN EXPECTED_FRAMES
"""
import sys

import cv2

from chains import CHAINS


def main():
    clip, chain, expected = sys.argv[1], CHAINS[sys.argv[2]], int(sys.argv[3])
    cap = cv2.VideoCapture(clip, cv2.CAP_FFMPEG)
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        chain(frame)
        n += 1
    if n != expected:
        sys.exit(f"opencv_loop: read {n} frames, expected {expected}")


if __name__ == "__main__":
    main()
