#!/usr/bin/env bash
# Renders every overlay of deploy/k8s with kustomize and validates every object
# with kubeconform (strict) against the Kubernetes schemas and the CRDs'
# schemas. The tools are built from their Go modules and the schemas come from
# Go modules too (the Kubernetes OpenAPI spec, KEDA's and the Prometheus
# Operator's CRDs), all cached under .local/cache/k8s.
#   tools/k8s-check.sh          render + validate (+ the topic manifests are fresh)
#   tools/k8s-check.sh topics   regenerate the KafkaTopic manifests
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${CHORUS_LOCAL:-$repo/.local}/cache/k8s"
out="${CHORUS_LOCAL:-$repo/.local}/k8s"
python="$repo/.venv/bin/python"
topics="$repo/deploy/k8s/components/kafka-topics/topics.yaml"

KUSTOMIZE=sigs.k8s.io/kustomize/kustomize/v5@v5.7.1
KUBECONFORM=github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
KUBERNETES=k8s.io/kubernetes@v1.34.2
KEDA=github.com/kedacore/keda/v2@v2.18.1
PROMETHEUS_OPERATOR=github.com/prometheus-operator/prometheus-operator@v0.85.0

tool() { # name module@version → path of the built binary
  local dir="$cache/${2//[\/@]/_}"
  if [ ! -x "$dir/$1" ]; then
    echo "k8s-check: building $2 (first use only)..." >&2
    mkdir -p "$dir"
    (cd "$dir" && GOBIN="$dir" GOFLAGS=-mod=mod go install "$2") >&2
  fi
  echo "$dir/$1"
}

module_dir() { # module@version → its directory in the Go module cache
  (cd "$cache" && go mod download -json "$1") | "$python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

command -v go >/dev/null || { echo "k8s-check: Go is needed to build kustomize and kubeconform" >&2; exit 1; }
mkdir -p "$cache" "$out"

if [ "${1:-check}" = topics ]; then
  "$repo/.venv/bin/chorus" topics manifests --replication 3 > "$topics"
  echo "k8s-check: wrote ${topics#"$repo"/}"
  exit 0
fi

if ! diff -q <("$repo/.venv/bin/chorus" topics manifests --replication 3) "$topics" >/dev/null; then
  echo "k8s-check: ${topics#"$repo"/} is stale: run 'make k8s-topics'" >&2
  exit 1
fi

kustomize="$(tool kustomize "$KUSTOMIZE")"
kubeconform="$(tool kubeconform "$KUBECONFORM")"
rendered=()
for overlay in "$repo"/deploy/k8s/overlays/*/; do
  name="$(basename "$overlay")"
  "$kustomize" build "$overlay" > "$out/$name.yaml"
  rendered+=("$out/$name.yaml")
done

crds="$(module_dir "$PROMETHEUS_OPERATOR")/example/prometheus-operator-crd"
"$python" "$repo/tools/k8s_schemas.py" \
  --swagger "$(module_dir "$KUBERNETES")/api/openapi-spec/swagger.json" \
  --crd "$(module_dir "$KEDA")/config/crd/bases/keda.sh_scaledobjects.yaml" \
  --crd "$crds/monitoring.coreos.com_servicemonitors.yaml" \
  --crd "$crds/monitoring.coreos.com_prometheusrules.yaml" \
  --crd "$repo/deploy/k8s/crds/strimzi-kafkatopic.yaml" \
  --out "$cache/schemas" "${rendered[@]}"

"$kubeconform" -strict -summary -output text \
  -schema-location "$cache/schemas/{{.ResourceKind}}{{.KindSuffix}}.json" "${rendered[@]}"
