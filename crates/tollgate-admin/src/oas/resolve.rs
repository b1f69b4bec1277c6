//! `$ref` resolution and the 3.0 → 3.1 schema upgrade, on the document's JSON.
//!
//! The typed OpenAPI crates validate the document and list its operations; schemas are
//! taken from the document's own JSON instead, because the crates' schema models
//! re-serialize them in their own shape (keywords dropped or reordered). Resolving
//! here makes every kept schema self-contained: a later reader (the export, MCP tools)
//! needs no `components`.

use serde_json::{Map, Value};

use super::ImportError;

/// At most this many JSON values are produced by resolving one document: inlining
/// `$ref`s can grow a document exponentially (A uses B twice, B uses C twice, ...).
const BUDGET: usize = 500_000;

/// Deeper nesting than this is refused rather than walked.
const MAX_DEPTH: usize = 200;

/// Keywords whose value is data (an instance), not a schema: a `$ref` inside is a
/// field of the example, not a reference.
const DATA_KEYWORDS: [&str; 5] = ["example", "examples", "default", "const", "enum"];

/// Keywords whose value maps names to schemas: their keys are names, never keywords.
const NAME_MAPS: [&str; 5] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// Resolves local `$ref`s (`#/components/...`) against one document.
pub(crate) struct Resolver<'a> {
    doc: &'a Value,
    budget: usize,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(doc: &'a Value) -> Self {
        Resolver {
            doc,
            budget: BUDGET,
        }
    }

    /// `value` (found at `at`, for messages) with every `$ref` replaced by a copy of its
    /// target, itself resolved. Keys next to a `$ref` are kept and win over the
    /// target's (OpenAPI 3.1 lets `summary` and `description` override, and a schema's
    /// sibling keywords apply too). A reference back into one being expanded becomes
    /// `{"$comment": "recursive reference to ..."}`, which accepts anything.
    pub(crate) fn resolve(&mut self, value: &Value, at: &str) -> Result<Value, ImportError> {
        let mut stack = Vec::new();
        self.walk(value, at, &mut stack, false, 0)
    }

    fn walk(
        &mut self,
        value: &Value,
        at: &str,
        stack: &mut Vec<String>,
        names: bool,
        depth: usize,
    ) -> Result<Value, ImportError> {
        self.budget = self.budget.checked_sub(1).ok_or(ImportError::TooLarge)?;
        if depth > MAX_DEPTH {
            return Err(ImportError::TooDeep(at.to_string()));
        }
        match value {
            Value::Object(map) => {
                if !names && let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    return self.expand(reference, map, at, stack, depth);
                }
                let mut out = Map::with_capacity(map.len());
                for (k, v) in map {
                    let v = if names {
                        self.walk(v, at, stack, false, depth + 1)?
                    } else if DATA_KEYWORDS.contains(&k.as_str()) {
                        self.copy(v)?
                    } else {
                        let inner = NAME_MAPS.contains(&k.as_str());
                        self.walk(v, at, stack, inner, depth + 1)?
                    };
                    out.insert(k.clone(), v);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .map(|v| self.walk(v, at, stack, false, depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    fn expand(
        &mut self,
        reference: &str,
        map: &Map<String, Value>,
        at: &str,
        stack: &mut Vec<String>,
        depth: usize,
    ) -> Result<Value, ImportError> {
        if stack.iter().any(|r| r == reference) {
            let mut out = Map::new();
            out.insert(
                "$comment".into(),
                Value::String(format!("recursive reference to {reference}, not expanded")),
            );
            return Ok(Value::Object(out));
        }
        let target = self.lookup(reference, at)?;
        stack.push(reference.to_string());
        let resolved = self.walk(target, at, stack, false, depth + 1);
        stack.pop();
        let mut resolved = resolved?;
        let siblings: Vec<_> = map.iter().filter(|(k, _)| k.as_str() != "$ref").collect();
        if siblings.is_empty() {
            return Ok(resolved);
        }
        let Value::Object(out) = &mut resolved else {
            // A boolean schema with sibling keywords: the siblings alone say more.
            let rest: Map<String, Value> = siblings
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            return self.walk(&Value::Object(rest), at, stack, false, depth + 1);
        };
        for (k, v) in siblings {
            let v = if DATA_KEYWORDS.contains(&k.as_str()) {
                self.copy(v)?
            } else {
                let inner = NAME_MAPS.contains(&k.as_str());
                self.walk(v, at, stack, inner, depth + 1)?
            };
            out.insert(k.clone(), v);
        }
        Ok(resolved)
    }

    /// A copy of data, counted against the budget like everything produced.
    fn copy(&mut self, value: &Value) -> Result<Value, ImportError> {
        let n = count(value);
        self.budget = self.budget.checked_sub(n).ok_or(ImportError::TooLarge)?;
        Ok(value.clone())
    }

    /// The value a local reference (`#/json/pointer`) points at.
    fn lookup(&self, reference: &str, at: &str) -> Result<&'a Value, ImportError> {
        let bad = |why: &str| ImportError::Ref {
            at: at.to_string(),
            reference: reference.to_string(),
            why: why.to_string(),
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(bad(
                "only references inside the document (`#/...`) are supported; bundle external files into it first",
            ));
        };
        let pointer = percent_decode(pointer).ok_or_else(|| bad("is not valid UTF-8"))?;
        self.doc
            .pointer(&pointer)
            .ok_or_else(|| bad("points at nothing in the document"))
    }
}

/// How many JSON values `value` holds (itself included).
fn count(value: &Value) -> usize {
    match value {
        Value::Object(m) => 1 + m.values().map(count).sum::<usize>(),
        Value::Array(a) => 1 + a.iter().map(count).sum::<usize>(),
        _ => 1,
    }
}

/// A reference's fragment is URI-encoded (`#/paths/~1pets%7Bid%7D`): decodes `%XX`.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Rewrites an OpenAPI 3.0 schema (already resolved) in the JSON Schema 2020-12 form
/// OpenAPI 3.1 uses, so that every stored schema reads one way: `nullable: true`
/// becomes a `"null"` type (or an `anyOf` with one), and the boolean
/// `exclusiveMinimum`/`exclusiveMaximum` become the numbers they qualified.
pub(crate) fn upgrade_30_schema(schema: &mut Value) {
    upgrade(schema, false, 0);
}

fn upgrade(value: &mut Value, names: bool, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if names {
                    upgrade(v, false, depth + 1);
                } else if !DATA_KEYWORDS.contains(&k.as_str()) {
                    upgrade(v, NAME_MAPS.contains(&k.as_str()), depth + 1);
                }
            }
            if !names {
                upgrade_keywords(map);
                if map.get("nullable") == Some(&Value::Bool(true)) {
                    map.remove("nullable");
                    *value = nullable(std::mem::take(map));
                } else if map.get("nullable").is_some_and(Value::is_boolean) {
                    map.remove("nullable");
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| upgrade(v, false, depth + 1)),
        _ => {}
    }
}

fn upgrade_keywords(map: &mut Map<String, Value>) {
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match map.get(flag) {
            Some(Value::Bool(true)) => match map.remove(bound) {
                Some(n) => {
                    map.insert(flag.to_string(), n);
                }
                None => {
                    map.remove(flag);
                }
            },
            Some(Value::Bool(false)) => {
                map.remove(flag);
            }
            _ => {}
        }
    }
}

/// `schema` that also accepts `null`.
fn nullable(mut map: Map<String, Value>) -> Value {
    if let Some(Value::Array(options)) = map.get_mut("enum")
        && !options.contains(&Value::Null)
    {
        options.push(Value::Null);
    }
    match map.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            map.insert(
                "type".into(),
                Value::Array(vec![Value::String(t), Value::String("null".into())]),
            );
            Value::Object(map)
        }
        _ => {
            let mut null = Map::new();
            null.insert("type".into(), Value::String("null".into()));
            let mut out = Map::new();
            out.insert(
                "anyOf".into(),
                Value::Array(vec![Value::Object(map), Value::Object(null)]),
            );
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_are_inlined_recursion_is_cut_and_data_is_left_alone() {
        let doc = json!({"components": {"schemas": {
            "Pet": {"type": "object", "properties": {
                "id": {"$ref": "#/components/schemas/Id"},
                "$ref": {"type": "string"},
                "parent": {"$ref": "#/components/schemas/Pet"}},
                "example": {"$ref": "not a reference"}},
            "Id": {"type": "integer", "format": "int64"},
            "Odd~/Name": {"type": "boolean"}
        }}});
        let mut r = Resolver::new(&doc);
        let got = r
            .resolve(
                &json!({"$ref": "#/components/schemas/Pet", "description": "mine"}),
                "here",
            )
            .expect("resolves");
        assert_eq!(
            got["properties"]["id"],
            json!({"type": "integer", "format": "int64"})
        );
        assert_eq!(got["properties"]["$ref"], json!({"type": "string"}));
        assert_eq!(
            got["properties"]["parent"]["$comment"],
            "recursive reference to #/components/schemas/Pet, not expanded"
        );
        assert_eq!(got["example"], json!({"$ref": "not a reference"}));
        assert_eq!(got["description"], "mine");
        let escaped = r
            .resolve(&json!({"$ref": "#/components/schemas/Odd~0~1Name"}), "x")
            .expect("escaped");
        assert_eq!(escaped, json!({"type": "boolean"}));
        for bad in ["other.yaml#/X", "#/components/schemas/Nope"] {
            let err = r
                .resolve(&json!({"$ref": bad}), "paths./a.get")
                .unwrap_err();
            assert!(matches!(err, ImportError::Ref { .. }), "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn exponential_expansion_is_refused() {
        let mut schemas = serde_json::Map::new();
        for i in 0..40 {
            let next = format!("#/components/schemas/S{}", i + 1);
            schemas.insert(
                format!("S{i}"),
                json!({"type": "object", "properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
            );
        }
        schemas.insert("S40".into(), json!({"type": "string"}));
        let doc = json!({"components": {"schemas": schemas}});
        let err = Resolver::new(&doc)
            .resolve(&json!({"$ref": "#/components/schemas/S0"}), "x")
            .unwrap_err();
        assert!(matches!(err, ImportError::TooLarge));
    }

    #[test]
    fn openapi_30_schemas_are_upgraded() {
        let mut s = json!({"type": "object", "properties": {
            "nullable": {"type": "string", "nullable": true, "enum": ["a"]},
            "n": {"type": "number", "minimum": 1, "exclusiveMinimum": true,
                  "maximum": 9, "exclusiveMaximum": false},
            "ref": {"allOf": [{"type": "integer"}], "nullable": true},
            "plain": {"type": "string", "nullable": false}},
            "example": {"nullable": true}});
        upgrade_30_schema(&mut s);
        assert_eq!(
            s["properties"]["nullable"],
            json!({"type": ["string", "null"], "enum": ["a", null]})
        );
        assert_eq!(
            s["properties"]["n"],
            json!({"type": "number", "exclusiveMinimum": 1, "maximum": 9})
        );
        assert_eq!(
            s["properties"]["ref"],
            json!({"anyOf": [{"allOf": [{"type": "integer"}]}, {"type": "null"}]})
        );
        assert_eq!(s["properties"]["plain"], json!({"type": "string"}));
        assert_eq!(
            s["example"],
            json!({"nullable": true}),
            "data is not a schema"
        );
    }
}
