#!/usr/bin/python3
"""BlazeFace run directly through OpenCV's Python dnn, with a decode of its own, as a reference
for cvpipe's dnn_detect: for each frame of CLIP, one JSON line [[x, y, w, h, score], ...] in the
frame's pixels, for faces scoring at least 0.5 after NMS at 0.45.
Usage: blazeface_reference.py MODEL CLIP
"""
import json
import sys

import cv2
import numpy as np

model, clip = sys.argv[1], sys.argv[2]
cv2.setNumThreads(1)
net = cv2.dnn.readNetFromONNX(model)
names = net.getUnconnectedOutLayersNames()
SIZE = 128


def anchors():
    """MediaPipe's SSD anchors of face_detection_front: 16x16 cells with 2 anchors, 8x8 with 6."""
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        side = SIZE // stride
        for y in range(side):
            for x in range(side):
                out += [((x + 0.5) * stride, (y + 0.5) * stride)] * per_cell
    return np.array(out)


ANCHORS = anchors()
cap = cv2.VideoCapture(clip, cv2.CAP_FFMPEG)
while True:
    ok, frame = cap.read()
    if not ok:
        break
    h, w = frame.shape[:2]
    rgb = cv2.cvtColor(cv2.resize(frame, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
    net.setInput(((rgb.astype(np.float32) - 127.5) * (1 / 127.5))[None])
    outs = net.forward(names)
    scores = sorted((o for o in outs if o.shape[2] == 1), key=lambda o: -o.shape[1])
    regressors = sorted((o for o in outs if o.shape[2] == 16), key=lambda o: -o.shape[1])
    logits = np.concatenate([s[0, :, 0] for s in scores])
    raw = np.concatenate([r[0] for r in regressors])
    score = 1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
    boxes, kept = [], []
    for i in np.nonzero(score >= 0.5)[0]:
        cx, cy = ANCHORS[i] + raw[i, :2]
        bw, bh = raw[i, 2], raw[i, 3]
        x0, y0 = (cx - bw / 2) * w / SIZE, (cy - bh / 2) * h / SIZE
        x1, y1 = (cx + bw / 2) * w / SIZE, (cy + bh / 2) * h / SIZE
        boxes.append([float(x0), float(y0), float(x1 - x0), float(y1 - y0)])
        kept.append(float(score[i]))
    found = []
    for k in np.array(cv2.dnn.NMSBoxes(boxes, kept, 0.5, 0.45)).reshape(-1):
        x, y, bw, bh = boxes[k]
        x0, y0 = max(0, round(x)), max(0, round(y))
        x1, y1 = min(w, round(x + bw)), min(h, round(y + bh))
        found.append([x0, y0, x1 - x0, y1 - y0, kept[k]])
    found.sort(key=lambda b: (b[1], b[0], b[3], b[2]))
    print(json.dumps(found))
