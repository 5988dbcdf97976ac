"""Write tests/crd_schemas/<kind>.json: an upstream CRD's openAPIV3Schema, cut to our manifests.

    python tests/crd_schemas/trim_crd.py UPSTREAM_CRD.yaml SOURCE_NOTE

Kept from the upstream schema: every constraint (type, required, enum, pattern, bounds,
int-or-string) of the properties deploy/kubernetes uses, and of the properties upstream
requires. Dropped: descriptions and the properties we do not use. Added, as `kubectl apply`'s
strict field validation behaves: `additionalProperties: false` on each object schema that lists
properties and does not preserve unknown fields (so a misspelt or unknown field fails), and
`apiVersion`/`kind` pinned to the CRD's group, version and kind. OpenAPI's `nullable` becomes a
JSON Schema type list. CEL rules (`x-kubernetes-validations`) are not carried over.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

yaml: Any = importlib.import_module("yaml")
HERE = Path(__file__).resolve().parent
MANIFESTS = HERE.parent.parent / "deploy" / "kubernetes"
CONSTRAINTS = (
    "type",
    "required",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "anyOf",
    "oneOf",
    "allOf",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
)


def trim(schema: dict[str, Any], instances: list[Any]) -> dict[str, Any]:
    """`schema` without descriptions, keeping only the properties `instances` use or require."""
    out = {key: schema[key] for key in CONSTRAINTS if key in schema}
    if schema.get("nullable"):
        out["type"] = [schema["type"], "null"]
    if schema.get("x-kubernetes-int-or-string") and "anyOf" not in schema:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    objects = [i for i in instances if isinstance(i, dict)]
    if "properties" in schema:
        wanted = {name for i in objects for name in i} | set(schema.get("required", []))
        out["properties"] = {
            name: trim(schema["properties"][name], [i[name] for i in objects if name in i])
            for name in sorted(wanted & set(schema["properties"]))
        }
        if "additionalProperties" not in schema and not schema.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            out["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        values = [value for i in objects for value in i.values()]
        out["additionalProperties"] = trim(schema["additionalProperties"], values)
    if "items" in schema:
        elements = [e for i in instances if isinstance(i, list) for e in i]
        out["items"] = trim(schema["items"], elements)
    return out


def main(crd_path: str, source: str) -> None:
    """Trim the CRD at `crd_path` against the manifests of its kind; `source` names its origin."""
    crd = yaml.safe_load(Path(crd_path).read_text())
    kind = crd["spec"]["names"]["kind"]
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    api_version = f"{crd['spec']['group']}/{version['name']}"
    instances = [
        document
        for path in sorted(MANIFESTS.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document.get("kind") == kind and document.get("apiVersion") == api_version
    ]
    schema = trim(version["schema"]["openAPIV3Schema"], instances)
    schema["properties"]["apiVersion"] = {"type": "string", "enum": [api_version]}
    schema["properties"]["kind"] = {"type": "string", "enum": [kind]}
    schema["required"] = sorted({"apiVersion", "kind", *schema.get("required", [])})
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"{api_version} {kind}: openAPIV3Schema of {source}, cut by trim_crd.py",
        **schema,
    }
    target = HERE / f"{kind.lower()}.json"
    target.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
