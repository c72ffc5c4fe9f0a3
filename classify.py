"""Score posts: a thin entry point over ``kiemtin classify``.

python classify.py corpora/samples/posts.jsonl -o scores.jsonl
"""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["classify", *sys.argv[1:]]))
