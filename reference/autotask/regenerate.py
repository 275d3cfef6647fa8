#!/usr/bin/env python3
"""Regenerates autotask-reference.json, the compact Autotask facts the sandbox and the contract
tests read (nothing outside the repository is read at build, run or test time).

Sources (the team's reading copies, not part of the product):
  - Kaseya's published Autotask PSA REST Swagger ("Datto|Autotask PSA Rest API", v1):
    `definitions` (models, property names and types) and `paths` (routes and their verbs);
  - Appendix A of the team's Autotask REST notes: field tables merged from live
    `entityInformation/fields` captures (required, read-only, length, reference, picklist,
    queryable).

Usage: reference/autotask/regenerate.py SWAGGER_JSON REST_NOTES_MD [OUT_JSON]
Output is deterministic (sorted keys), so a regeneration diff shows exactly what Kaseya changed.
"""
import datetime
import hashlib
import json
import os
import sys

# (collection, swagger model, child route (parent collection, segment, parent id field))
COLLECTIONS = [
    ("Companies", "CompanyModel", None),
    ("CompanyLocations", "CompanyLocationModel", ("Companies", "Locations", "companyID")),
    ("Contacts", "ContactModel", ("Companies", "Contacts", "companyID")),
    ("Opportunities", "OpportunityModel", None),
    ("Quotes", "QuoteModel", None),
    ("QuoteLocations", "QuoteLocationModel", None),
    ("QuoteItems", "QuoteItemModel", ("Quotes", "Items", "quoteID")),
    ("Products", "ProductModel", None),
    ("Services", "ServiceModel", None),
    ("ServiceBundles", "ServiceBundleModel", None),
    ("BillingCodes", "BillingCodeModel", None),
    ("Roles", "RoleModel", None),
    ("Resources", "ResourceModel", None),
    ("ShippingTypes", "ShippingTypeModel", None),
    ("PaymentTerms", "PaymentTermModel", None),
]

# Non-entity models whose property names the product serialises (query bodies, UDFs, threshold).
EXTRA_MODELS = ["QueryModel", "Filter", "UserDefinedField", "ThresholdStatusResultModel"]


def swagger_type(schema):
    t, f = schema.get("type", "string"), schema.get("format", "")
    if t == "integer":
        return "long" if f == "int64" else "integer"
    if t == "number":
        return "double"
    if t == "boolean":
        return "boolean"
    if t == "string" and f == "date-time":
        return "datetime"
    if t == "array":
        return "array"
    return "string"


def appendix_a(md):
    """The `#### <Collection> — field table` sections of Appendix A, per collection and field."""
    out = {}
    start = md.find("## Appendix A")
    if start < 0:
        sys.exit("no '## Appendix A' in the REST notes")
    current = None
    for line in md[start:].splitlines():
        if line.startswith("#### "):
            current = line[5:].split(" — ")[0].strip()
            continue
        if current is None:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        length = None
        if "(" in cells[1]:
            try:
                length = int(cells[1].split("(", 1)[1].rstrip(")"))
            except ValueError:
                length = None
        req_rest, req_soap, ro = cells[2], cells[3], cells[4]
        out.setdefault(current, {})[name] = {
            "length": length,
            # "?" = no signal in the REST capture: fall back to the SOAP capture.
            "required": req_rest == "Y" or (req_rest == "?" and req_soap == "Y"),
            "read_only": ro == "Y",
            "queryable": "not queryable" not in cells[7],
            "reference": cells[5] or None,
            "picklist": cells[6] == "PL",
        }
    return out


def verbs(paths, path):
    return sorted(v.upper() for v in paths.get(path, {}).keys())


def entity(swagger, tables, collection, model, child):
    props = swagger["definitions"].get(model, {}).get("properties")
    if props is None:
        sys.exit(f"the swagger has no definition {model}")
    table = tables.get(collection, {})
    fields, has_udfs = [], False
    for name in sorted(props):
        if name == "userDefinedFields":
            has_udfs = True
            continue
        row = table.get(name)
        is_id = name == "id"
        fields.append({
            "name": name,
            "type": swagger_type(props[name]),
            "length": row["length"] if row else None,
            "required": (not is_id) and bool(row and row["required"]),
            "read_only": is_id or bool(row and row["read_only"]),
            "queryable": row["queryable"] if row else True,
            "reference": row["reference"] if row else None,
            "picklist": bool(row and row["picklist"]),
        })
    paths = swagger["paths"]
    routes = {
        "root": verbs(paths, f"/V1.0/{collection}"),
        "item": verbs(paths, f"/V1.0/{collection}/{{id}}"),
        "child": None,
    }
    if child:
        parent, segment, parent_field = child
        routes["child"] = {
            "parent": parent,
            "segment": segment,
            "parent_field": parent_field,
            "verbs": verbs(paths, f"/V1.0/{parent}/{{parentId}}/{segment}"),
            "item_verbs": verbs(paths, f"/V1.0/{parent}/{{parentId}}/{segment}/{{id}}"),
        }
    return {"collection": collection, "model": model, "has_udfs": has_udfs, "fields": fields, "routes": routes}


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    swagger_path, notes_path = sys.argv[1], sys.argv[2]
    out_path = sys.argv[3] if len(sys.argv) == 4 else os.path.join(os.path.dirname(__file__), "autotask-reference.json")
    raw = open(swagger_path, "rb").read()
    swagger = json.loads(raw)
    tables = appendix_a(open(notes_path, encoding="utf-8").read())
    models = {}
    for name in [m for _, m, _ in COLLECTIONS] + EXTRA_MODELS:
        props = swagger["definitions"].get(name, {}).get("properties")
        if props is None:
            sys.exit(f"the swagger has no definition {name}")
        models[name] = sorted(props)
    doc = {
        "source": {
            "swagger": f"{swagger['info']['title']} {swagger['info']['version']} (Kaseya's published Swagger), "
                       f"sha256 {hashlib.sha256(raw).hexdigest()}",
            "field_tables": "Appendix A of the team's Autotask REST notes (live entityInformation/fields captures)",
            "generated": datetime.date.today().isoformat(),
            "generator": "reference/autotask/regenerate.py",
        },
        "entities": [entity(swagger, tables, c, m, ch) for c, m, ch in COLLECTIONS],
        "models": models,
        "paths": {p: verbs(swagger["paths"], p) for p in sorted(swagger["paths"])},
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {out_path}: {len(doc['entities'])} entities, {len(models)} models, {len(doc['paths'])} paths")


if __name__ == "__main__":
    main()
