"""The benchmark's op chains written the way a user would write them by hand with cv2."""
import cv2


def light(frame):
    blurred = cv2.GaussianBlur(frame, (15, 15), 0)
    gray = cv2.cvtColor(blurred, cv2.COLOR_BGR2GRAY)
    return cv2.Canny(gray, 100, 200)


def heavy(frame):
    return light(cv2.bilateralFilter(frame, 9, 75, 75))


CHAINS = {"light": light, "heavy": heavy}
