"""The imagecorruptions side of bench/corruption-vs-imagecorruptions.

Reads the images stressor prepared (raw uint8, [n, size, size, 3]), corrupts every image with
each corruption at one severity through `imagecorruptions.corrupt` (one image per call, as the
package is used), and prints one JSON object per line: {"corruption", "images_per_sec"}.
Names are stressor's (kebab-case); occlusion has no counterpart and is skipped.
"""
import argparse
import json
import time
import warnings

import numpy as np
import imagecorruptions

NAMES = {
    "gaussian-noise": "gaussian_noise",
    "shot-noise": "shot_noise",
    "impulse-noise": "impulse_noise",
    "defocus-blur": "defocus_blur",
    "motion-blur": "motion_blur",
    "gaussian-blur": "gaussian_blur",
    "brightness": "brightness",
    "contrast": "contrast",
    "saturate": "saturate",
    "jpeg-compression": "jpeg_compression",
    "pixelate": "pixelate",
    "elastic-transform": "elastic_transform",
    "fog": "fog",
    "frost": "frost",
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=0.5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    images = np.fromfile(args.images, dtype=np.uint8).reshape(args.n, args.size, args.size, 3)
    np.random.seed(0)
    for name, python_name in NAMES.items():
        imagecorruptions.corrupt(images[0], args.severity, python_name)  # warm-up
        start = time.perf_counter()
        done = 0
        while done == 0 or time.perf_counter() - start < args.min_seconds:
            for image in images:
                imagecorruptions.corrupt(image, args.severity, python_name)
            done += len(images)
        seconds = time.perf_counter() - start
        print(json.dumps({"corruption": name, "images_per_sec": done / seconds}), flush=True)


if __name__ == "__main__":
    main()
