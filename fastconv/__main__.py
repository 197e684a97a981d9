"""python -m fastconv [info | demo | bench [options]]

  info    version, build (OpenMP, compiler flags, SIMD), threads, GPU, optional packages
  demo    the seed example: a 4x4 image through a 3x3 kernel, checked against torch
  bench   time fastconv against every installed peer (torch, NumPy im2col, SciPy) on the
          reference workload; `python -m fastconv bench --help` for the options
"""

import sys


def demo():
    """The seed example: a 1x1x4x4 image through a 3x3 kernel, O = (I - K + 2P)/S + 1."""
    import numpy as np

    import fastconv
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    w = np.array([[[[1, 0, -1], [2, 0, -2], [1, 0, -1]]]], dtype=np.float32)  # Sobel x
    for stride, padding in ((1, 0), (1, 1), (2, 1)):
        y = fastconv.conv2d(x, w, stride=stride, padding=padding)
        o = (4 - 3 + 2 * padding) // stride + 1
        print(f"stride={stride} padding={padding}: O = (4 - 3 + 2*{padding})/{stride} + 1 = {o}"
              f" -> output shape {y.shape}")
        print(y[0, 0])
    try:
        import torch
        import torch.nn.functional as F
        t = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
        same = np.array_equal(t, fastconv.conv2d(x, w, padding=1))
        print(f"torch {torch.__version__} gives {'the same' if same else 'a DIFFERENT'} result")
    except ImportError:
        print("(torch not installed: no comparison)")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[0] if argv else "info"
    if cmd == "info":
        import fastconv
        fastconv.show_config()
    elif cmd == "demo":
        demo()
    elif cmd == "bench":
        from fastconv._bench import main as bench
        return bench(argv[1:])
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 0 if cmd in ("-h", "--help", "help") else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
