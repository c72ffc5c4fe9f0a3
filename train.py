"""Train a model: a thin entry point over ``kiemtin train``.

python train.py --task hostile --corpus ../shared/corpora/vihsd
"""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
