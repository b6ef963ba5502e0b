#!/usr/bin/python3
"""Writes the tiny ONNX models the dnn_detect tests run (Debian's python3-onnx), into OUT/models/:

- yolov5s.onnx, coco.names: a stand-in of the name the op's example gives (constant YOLOv5-shaped
  output [1, 100, 85], no box above 0.5), with the 80 COCO class names;
- yolo_v5.onnx, yolo_v8.onnx, ssd.onnx: constant outputs whose decoding is known in advance
  (BOXES below), in each layout; yolo_v5_nhwc.onnx takes NHWC input; ssd_hostile.onnx gives
  numbers no model should (NaN, a class beyond int's range) beside one good box;
- fixed_64.onnx: takes only 1x3x64x64 input; not_onnx.onnx: text.

Each model ignores its input's values (its output is a constant the input cannot change) and
takes any input size unless said otherwise.
Usage: make_models.py OUT
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The boxes every decoder test expects, in a 64x64 input: (cx, cy, w, h, class, score), two
# classes. The second overlaps the first (IoU 0.68) with a lower score: NMS removes it. The
# fourth is below the 0.5 threshold.
BOXES = [(20, 20, 16, 16, 0, 0.9), (22, 21, 16, 16, 0, 0.8), (44, 40, 12, 20, 1, 0.7), (10, 50, 8, 8, 1, 0.3)]
CLASSES = 2


def constant_model(const, input_shape, path, fixed=False):
    """x -> Flatten -> ReduceSum -> Gemm (zero weights, the constant as bias) -> Reshape: OpenCV 4.6 runs it."""
    n = int(const.size)
    inits = [numpy_helper.from_array(np.zeros((n, 1), np.float32), "W"),
             numpy_helper.from_array(const.reshape(-1).astype(np.float32), "B"),
             numpy_helper.from_array(np.array([1, 1], np.int64), "S1"),
             numpy_helper.from_array(np.array(const.shape, np.int64), "S2")]
    if fixed:  # a reshape to the one size it takes
        inits.append(numpy_helper.from_array(np.array([1, int(np.prod(input_shape))], np.int64), "F"))
        nodes = [helper.make_node("Reshape", ["x", "F"], ["flat"])]
    else:
        nodes = [helper.make_node("Flatten", ["x"], ["flat"], axis=1)]
    nodes += [helper.make_node("ReduceSum", ["flat"], ["m"], axes=[1], keepdims=1),
              helper.make_node("Reshape", ["m", "S1"], ["m1"]),
              helper.make_node("Gemm", ["m1", "W", "B"], ["g"], transB=1),
              helper.make_node("Reshape", ["g", "S2"], ["y"])]
    graph = helper.make_graph(nodes, "constant", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(const.shape))], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    onnx.save(model, path)


def yolo_v5_rows():
    rows = np.zeros((len(BOXES), 5 + CLASSES), np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(BOXES):
        rows[i, :4] = (cx, cy, w, h)
        rows[i, 4] = 1.0            # objectness
        rows[i, 5 + cls] = score    # score = objectness x class score
        rows[i, 5 + (1 - cls)] = score / 3
    return rows


def main():
    out = os.path.join(sys.argv[1], "models")
    os.makedirs(out, exist_ok=True)
    nchw = [1, 3, "h", "w"]
    v5 = yolo_v5_rows()[None]                                   # [1, N, 5+C]
    constant_model(v5, nchw, os.path.join(out, "yolo_v5.onnx"))
    constant_model(v5, [1, "h", "w", 3], os.path.join(out, "yolo_v5_nhwc.onnx"))
    v8 = np.concatenate([v5[0, :, :4], v5[0, :, 5:]], axis=1).T[None].copy()  # [1, 4+C, N]
    constant_model(v8, nchw, os.path.join(out, "yolo_v8.onnx"))
    ssd = np.zeros((1, 1, len(BOXES), 7), np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(BOXES):
        ssd[0, 0, i] = (0, cls, score, (cx - w / 2) / 64, (cy - h / 2) / 64, (cx + w / 2) / 64, (cy + h / 2) / 64)
    constant_model(ssd, nchw, os.path.join(out, "ssd.onnx"))
    # Hostile numbers: a NaN class, a class beyond int's range, NaN corners; then one good row.
    bad = np.array([[0, np.nan, 0.9, 0.1, 0.1, 0.5, 0.5], [0, 3e10, 0.9, 0.1, 0.1, 0.5, 0.5],
                    [0, 1, 0.9, np.nan, 0.1, 0.5, np.nan], [0, 1, 0.9, 0.25, 0.25, 0.5, 0.75]], np.float32)
    constant_model(bad[None, None], nchw, os.path.join(out, "ssd_hostile.onnx"))
    constant_model(v5, [1, 3, 64, 64], os.path.join(out, "fixed_64.onnx"), fixed=True)
    with open(os.path.join(out, "not_onnx.onnx"), "w") as f:
        f.write("not a model\n")
    # The example's stand-in: 80 classes, every score 0.1.
    example = np.zeros((1, 100, 85), np.float32)
    example[0, :, :4] = (32, 32, 16, 16)
    example[0, :, 4:] = 0.1
    constant_model(example, nchw, os.path.join(out, "yolov5s.onnx"))
    names = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
             "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
             "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
             "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
             "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
             "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
             "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
             "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
             "scissors", "teddy bear", "hair drier", "toothbrush"]
    assert len(names) == 80
    with open(os.path.join(out, "coco.names"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
