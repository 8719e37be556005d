//! What the schemas accept and reject, checked with an independent validator,
//! and that they agree with lucidctl's own loader on the same documents.

mod common;

use common::*;
use desired_state::{load_sources, Source};
use serde_json::Value;
use std::path::PathBuf;

fn doc(yaml: &str) -> Value {
    let mut docs = yaml_documents(yaml).expect("test YAML parses");
    assert_eq!(docs.len(), 1, "one document per case");
    docs.remove(0)
}

/// lucidctl's own verdict: load, then validate, as error messages. The root
/// does not exist, so path rules only report missing files, which these
/// documents don't name.
fn loader_errors(yaml: &str) -> Vec<String> {
    let sources = [Source {
        group: 0,
        file: PathBuf::from("/nonexistent-crd-schemas-test/x.yaml"),
        text: yaml.to_string(),
    }];
    let loaded = load_sources(&sources, PathBuf::from("/nonexistent-crd-schemas-test"));
    let mut diags = loaded.diagnostics;
    diags.extend(desired_state::validate::validate(&loaded.state));
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect()
}

const GOOD: &[&str] = &[
    "apiVersion: lucid/v1alpha1\nkind: Network\nmetadata: {name: lucid-net, labels: {phase: foundation}}\nspec: {driver: bridge, subnet: 172.20.0.0/16, gateway: 172.20.0.1, internal: true}\n",
    "apiVersion: lucid/v1alpha1\nkind: Network\nmetadata: {name: bare}\n",
    "apiVersion: lucid/v1alpha1\nkind: Volume\nmetadata: {name: data}\nspec: {driver: local, driverOpts: {type: none}}\n",
    "apiVersion: lucid/v1alpha1\nkind: ConfigFile\nmetadata: {name: conf}\nspec: {content: \"x = 1\\n\", mode: \"0644\"}\n",
    "apiVersion: lucid/v1alpha1\nkind: SecretSet\nmetadata: {name: keys}\nspec:\n  file: .env.keys\n  generate: [{key: JWT_SECRET, bytes: 32}, {key: HEX, bytes: 16, encoding: hex}]\n  values: {MODE: prod}\n",
    "apiVersion: lucid/v1alpha1\nkind: Image\nmetadata: {name: app}\nspec: {ref: \"127.0.0.1:5000/pickme/app:1.0\", platform: linux/arm64}\n",
    "apiVersion: lucid/v1alpha1\nkind: IsolationPolicy\nmetadata: {name: tron}\nspec: {network: lucid-net, members: [api-gateway]}\n",
    "apiVersion: lucid/v1alpha1\nkind: Job\nmetadata: {name: init-db}\nspec: {image: mongo:7, command: [mongosh, --eval, \"1\"], restart: \"no\"}\n",
    r#"apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: api-gateway}
spec:
  image: pickme/lucid-api:latest-arm64
  env: {PORT: "8080", MODE: "no"}
  envFrom: [{secretSet: keys}]
  secretFiles: [{secretSet: keys, target: /run/secrets, keys: [JWT_SECRET]}]
  ports: [{containerPort: 8080, hostPort: 8080, hostIP: 127.0.0.1, protocol: tcp}]
  networks: [{name: lucid-net, aliases: [api], ipv4Address: 172.20.0.10}]
  mounts: [{volume: data, target: /data}, {configFile: conf, target: /etc/app.conf, readOnly: true}]
  healthcheck: {test: [CMD, /bin/true], interval: 10s, timeout: 5s, retries: 3, startPeriod: 1m30s}
  dependsOn: [{name: init-db, condition: completed}]
  restart: unless-stopped
  resources: {memory: 512Mi, cpus: 1.5, pidsLimit: 100}
  security: {readOnlyRootFilesystem: true, capDrop: [ALL], noNewPrivileges: true}
  user: "1000:1000"
  workingDir: /app
  init: true
  stopGracePeriod: 30s
"#,
];

#[test]
fn every_generated_schema_is_a_valid_draft_2020_12_schema() {
    for (name, schema) in crd_schemas::schemas() {
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("{name} is not a valid JSON Schema: {e}");
        }
        validator(&schema);
    }
}

#[test]
fn documents_the_loader_accepts_match_the_schemas() {
    // Together the good cases are a consistent state: lucidctl reports nothing.
    let all: String = GOOD.iter().map(|d| format!("---\n{d}")).collect();
    assert_eq!(
        loader_errors(&all),
        Vec::<String>::new(),
        "lucidctl rejects the good cases"
    );
    let combined = validator(&committed(crd_schemas::COMBINED));
    let overlay = validator(&committed(crd_schemas::OVERLAY));
    for yaml in GOOD {
        let d = doc(yaml);
        assert_eq!(
            errors(&combined, &d),
            Vec::<String>::new(),
            "lucid.schema.json rejects:\n{yaml}"
        );
        // A complete document is also a valid merge patch.
        assert_eq!(
            errors(&overlay, &d),
            Vec::<String>::new(),
            "lucid-overlay.schema.json rejects:\n{yaml}"
        );
        let kind = desired_state::model::Kind::parse(d["kind"].as_str().unwrap()).unwrap();
        let own = validator(&crd_schemas::kind_schema(kind));
        assert_eq!(
            errors(&own, &d),
            Vec::<String>::new(),
            "{} rejects:\n{yaml}",
            crd_schemas::kind_file_name(kind)
        );
    }
}

/// Bad documents, and a fragment of the error the validator must give.
const BAD: &[(&str, &str)] = &[
    // Unknown field in spec (a typo).
    ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {image: app, imagePullPolicy: Always}\n", "imagePullPolicy"),
    // Wrong type: a string where a port number goes.
    ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {image: app, ports: [{containerPort: eighty}]}\n", "eighty"),
    // Wrong type: a number where an env value (a string) goes.
    ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {image: app, env: {PORT: 8080}}\n", "8080"),
    // Missing required field.
    ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {command: [x]}\n", "image"),
    // Bad enum value.
    ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {image: app, restart: sometimes}\n", "sometimes"),
    // Bad duration.
    ("apiVersion: lucid/v1alpha1\nkind: Job\nmetadata: {name: j}\nspec: {image: app, stopGracePeriod: 10 seconds}\n", "10 seconds"),
    // Unknown kind.
    ("apiVersion: lucid/v1alpha1\nkind: Deployment\nmetadata: {name: api}\nspec: {}\n", "Deployment"),
    // Wrong apiVersion.
    ("apiVersion: apps/v1\nkind: Network\nmetadata: {name: net}\n", "/apiVersion"),
    // Unknown top-level key.
    ("apiVersion: lucid/v1alpha1\nkind: Network\nmetadata: {name: net}\nstatus: {}\n", "status"),
    // Missing metadata.
    ("apiVersion: lucid/v1alpha1\nkind: Network\nspec: {}\n", "metadata"),
    // Unknown field in metadata.
    ("apiVersion: lucid/v1alpha1\nkind: Network\nmetadata: {name: net, namespace: x}\n", "namespace"),
    // A name Docker and DNS would not take.
    ("apiVersion: lucid/v1alpha1\nkind: Network\nmetadata: {name: Lucid_Net}\n", "Lucid_Net"),
    // Generated key too short.
    ("apiVersion: lucid/v1alpha1\nkind: SecretSet\nmetadata: {name: s}\nspec: {file: .env.s, generate: [{key: K, bytes: 4}]}\n", "4"),
    // A Network spec given to a Volume.
    ("apiVersion: lucid/v1alpha1\nkind: Volume\nmetadata: {name: v}\nspec: {subnet: 10.0.0.0/8}\n", "subnet"),
    // secretFiles keys are names, not a mapping.
    ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {image: app, secretFiles: [{secretSet: s, target: /run/secrets, keys: {K: x}}]}\n", "keys"),
    // An address that is no IPv4 address.
    ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {image: app, networks: [{name: n, ipv4Address: 300.1.1.1}]}\n", "300.1.1.1"),
];

#[test]
fn bad_documents_are_rejected_by_the_schema_and_the_loader() {
    let schema = committed(crd_schemas::COMBINED);
    let combined = validator(&schema);
    for (yaml, fragment) in BAD {
        let d = doc(yaml);
        assert!(
            !combined.is_valid(&d),
            "lucid.schema.json accepts a bad document:\n{yaml}"
        );
        // The kind's own document schema names the fault.
        let errs = match d["kind"]
            .as_str()
            .filter(|k| desired_state::model::Kind::parse(k).is_some())
        {
            Some(kind) => errors(&validator(&narrowed(&schema, kind, false)), &d),
            None => errors(&combined, &d),
        };
        assert!(
            errs.iter().any(|e| e.contains(fragment)),
            "the errors for\n{yaml}do not mention {fragment:?}: {errs:#?}"
        );
        assert!(
            !loader_errors(yaml).is_empty(),
            "the loader accepts a document the schema rejects:\n{yaml}"
        );
    }
}

#[test]
fn a_kind_schema_takes_only_its_kind() {
    let service = validator(&crd_schemas::kind_schema(
        desired_state::model::Kind::Service,
    ));
    let job =
        doc("apiVersion: lucid/v1alpha1\nkind: Job\nmetadata: {name: j}\nspec: {image: app}\n");
    assert!(!service.is_valid(&job));
}

#[test]
fn overlays_are_merge_patches() {
    let base = validator(&committed(crd_schemas::COMBINED));
    let overlay = validator(&committed(crd_schemas::OVERLAY));
    let partial = [
        // No image: it comes from the base.
        "apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {env: {LOG_LEVEL: debug}}\n",
        // null deletes a field, a map key, or a whole nested object.
        "apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {env: {DEBUG: null}, healthcheck: null, restart: null}\n",
        // Nested objects merge too: no `test` needed.
        "apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {healthcheck: {interval: 30s}, resources: {memory: 1Gi}}\n",
        "apiVersion: lucid/v1alpha1\nkind: Image\nmetadata: {name: app}\nspec: {build: {args: {VERSION: \"2\"}}}\n",
        "apiVersion: lucid/v1alpha1\nkind: SecretSet\nmetadata: {name: s}\nspec: {values: {MODE: dev}}\n",
        "apiVersion: lucid/v1alpha1\nkind: Network\nmetadata: {name: n, labels: {phase: null}}\n",
        // Deletion needs no spec.
        "apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\n$patch: delete\n",
    ];
    for yaml in partial {
        let d = doc(yaml);
        assert_eq!(
            errors(&overlay, &d),
            Vec::<String>::new(),
            "lucid-overlay.schema.json rejects:\n{yaml}"
        );
    }
    assert!(
        !base.is_valid(&doc(partial[0])),
        "a base Service needs its image"
    );
    let bad = [
        // Unknown fields are still typos.
        ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {enviroment: {A: b}}\n", "enviroment"),
        ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {healthcheck: {intervall: 30s}}\n", "intervall"),
        // Types still hold.
        ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {env: {PORT: 8080}}\n", "8080"),
        // A list replaces the base's list whole, so its items must be complete.
        ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {ports: [{hostPort: 80}]}\n", "/spec/ports"),
        // The overlay must say what it patches.
        ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {labels: {a: b}}\nspec: {}\n", "name"),
        ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: null}\n", "null"),
        ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\n$patch: replace\n", "/$patch"),
        // Deleting a required field leaves no valid resource.
        ("apiVersion: lucid/v1alpha1\nkind: Service\nmetadata: {name: api}\nspec: {image: null}\n", "/spec/image"),
    ];
    let schema = committed(crd_schemas::OVERLAY);
    let narrowed_service = validator(&narrowed(&schema, "Service", true));
    for (yaml, fragment) in bad {
        let d = doc(yaml);
        assert!(
            !overlay.is_valid(&d),
            "lucid-overlay.schema.json accepts a bad overlay:\n{yaml}"
        );
        let errs = errors(&narrowed_service, &d);
        assert!(
            errs.iter().any(|e| e.contains(fragment)),
            "the errors for\n{yaml}do not mention {fragment:?}: {errs:#?}"
        );
    }
}
