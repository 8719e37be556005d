//! Regenerates docs/reference.md and docs/man/*.1 from the clap definition:
//!
//!     cargo run -p controller --example gen-docs
//!
//! controller/tests/docs.rs fails while the committed files differ from what
//! this writes. Man pages no longer generated are removed.

use controller::docs;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = docs::repo_root();
    let files = docs::generated_files();
    let man_dir = root.join(docs::MAN_DIR);
    if let Ok(entries) = std::fs::read_dir(&man_dir) {
        for entry in entries.flatten() {
            let rel = std::path::Path::new(docs::MAN_DIR).join(entry.file_name());
            let is_page = rel.extension().is_some_and(|e| e == "1");
            if is_page && !files.iter().any(|(p, _)| *p == rel) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => println!("removed {}", rel.display()),
                    Err(e) => {
                        eprintln!("error: cannot remove {}: {e}", rel.display());
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
    }
    for (rel, content) in files {
        let path = root.join(&rel);
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, content));
        if let Err(e) = result {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", rel.display());
    }
    ExitCode::SUCCESS
}
