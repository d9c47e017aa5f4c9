#!/bin/sh
# Fashion-MNIST for the GAN lab (issue 14): Debian's dataset-fashion-mnist package, checked by sha256.
# Quick when installed. Without root or apt, says how to point FASHION_MNIST_DIR at the four files.
set -eu

DIR="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"

# sha256 of the four files as shipped by dataset-fashion-mnist 0.0~git20200523.55506a9-1 (Debian).
SUMS="cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa  t10k-images-idx3-ubyte.gz
8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05  t10k-labels-idx1-ubyte.gz
b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7  train-images-idx3-ubyte.gz
0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056  train-labels-idx1-ubyte.gz"

all_present() {
    for f in t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz; do
        [ -f "$DIR/$f" ] || return 1
    done
}

if ! all_present; then
    if [ -z "${FASHION_MNIST_DIR:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "fashion-mnist: installing Debian package dataset-fashion-mnist"
        apt-get install -y -q dataset-fashion-mnist >/dev/null || {
            apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null
        }
    fi
fi

if ! all_present; then
    cat >&2 <<MSG
fashion-mnist: the four idx .gz files are not in $DIR.
  On Debian, as root:   apt-get install dataset-fashion-mnist
  Otherwise: download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
  t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (Zalando's Fashion-MNIST) into a
  folder and run with FASHION_MNIST_DIR=/that/folder (for make setup, make book and make test).
MSG
    exit 1
fi

if (cd "$DIR" && echo "$SUMS" | sha256sum --check --quiet --status -); then
    echo "fashion-mnist: ok ($DIR, sha256 checked)"
else
    echo "fashion-mnist: sha256 mismatch in $DIR (expected the Debian package's files):" >&2
    (cd "$DIR" && echo "$SUMS" | sha256sum --check - >&2) || true
    exit 1
fi
