//! Writes the JSON Schemas into crd-schemas/schemas/.
//! Run after changing a resource type: `cargo run -p crd-schemas --bin generate-schemas`.

fn main() {
    let dir = crd_schemas::schema_dir();
    match crd_schemas::write_all(&dir) {
        Ok(paths) => {
            for p in paths {
                println!("wrote {}", p.display());
            }
        }
        Err(e) => {
            eprintln!(
                "error: cannot write the schemas into {}: {e}",
                dir.display()
            );
            std::process::exit(1);
        }
    }
}
