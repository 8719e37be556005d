//! The committed schema files must be what the model types generate today.

use std::collections::BTreeSet;

#[test]
fn committed_schemas_are_up_to_date() {
    let dir = crd_schemas::schema_dir();
    let fix = format!(
        "run `{}` and commit crd-schemas/schemas/",
        crd_schemas::REGENERATE
    );
    let mut stale = Vec::new();
    let generated = crd_schemas::schemas();
    for (name, schema) in &generated {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) if text == crd_schemas::render(schema) => {}
            Ok(_) => stale.push(format!("{name} differs from what the model generates")),
            Err(e) => stale.push(format!("{name} cannot be read: {e}")),
        }
    }
    let wanted: BTreeSet<&str> = generated.iter().map(|(n, _)| n.as_str()).collect();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".schema.json") && !wanted.contains(name.as_str()) {
            stale.push(format!("{name} is no longer generated"));
        }
    }
    assert!(
        stale.is_empty(),
        "the schemas in {} are stale:\n  {}\n{fix}",
        dir.display(),
        stale.join("\n  ")
    );
}

#[test]
fn generation_is_deterministic_and_complete() {
    let a = crd_schemas::schemas();
    let b = crd_schemas::schemas();
    assert_eq!(a, b);
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "network.schema.json",
            "volume.schema.json",
            "configfile.schema.json",
            "secretset.schema.json",
            "image.schema.json",
            "isolationpolicy.schema.json",
            "job.schema.json",
            "service.schema.json",
            "lucid.schema.json",
            "lucid-overlay.schema.json",
        ]
    );
    for (name, schema) in &a {
        let defs: Vec<&String> = schema["$defs"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no $defs"))
            .keys()
            .collect();
        let mut sorted = defs.clone();
        sorted.sort();
        assert_eq!(defs, sorted, "{name}: $defs are not sorted");
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        assert!(crd_schemas::render(schema).ends_with("}\n"), "{name}");
    }
}
