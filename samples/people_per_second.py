#!/usr/bin/env python3
"""Reads a cvpipe results file (JSON Lines, one object per frame written) and prints, for each
second of the video, how many people were in view at most, then the busiest frame.

    python3 samples/people_per_second.py out/vision.jsonl
"""
import json
import sys

most = {}  # second of the video -> the most people in one of its frames
busiest = (0, None)  # (people, frame)
with open(sys.argv[1], encoding="utf-8") as results:
    for line in results:
        frame = json.loads(line)
        people = sum(1 for d in frame["detections"] if d["class"] == "person")
        second = int(frame["pts_ms"] // 1000)
        most[second] = max(most.get(second, 0), people)
        if people > busiest[0]:
            busiest = (people, frame)

for second in sorted(most):
    print(f"{second:4d} s: {most[second]} people")
if busiest[1] is not None:
    print(f"busiest: frame {busiest[1]['seq']} at {busiest[1]['pts_ms'] / 1000:.1f} s, {busiest[0]} people")
