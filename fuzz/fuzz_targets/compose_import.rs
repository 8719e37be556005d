//! Arbitrary bytes through the compose importer (`lucidctl import compose`):
//! nothing may panic, overflow the stack or run away with memory.
//!
//! The input is split at its first NUL byte into the compose file and the
//! `.env` file beside it (interpolation and the env-file parser are reached),
//! and at a second NUL into an override file (the second `-f`, so merging is
//! reached). Both are written into a directory of this process's own, since
//! the importer reads files: references such as `env_file:` resolve there, and
//! whatever else they name is read only if it is a regular file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lucid_compose::import::{import, ImportOptions};
use std::path::PathBuf;
use std::sync::OnceLock;

fn workdir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir()
            .join(format!("lucidctl-fuzz-compose-{}", std::process::id()))
            .join("proj");
        std::fs::create_dir_all(&dir).expect("create the fuzz work directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = workdir();
    let mut parts = data.splitn(3, |&b| b == 0);
    let compose = parts.next().unwrap_or_default();
    let dotenv = parts.next();
    let override_file = parts.next();

    let first = dir.join("docker-compose.yml");
    std::fs::write(&first, compose).expect("write the compose file");
    let env_path = dir.join(".env");
    match dotenv {
        Some(bytes) => std::fs::write(&env_path, bytes).expect("write .env"),
        None => {
            let _ = std::fs::remove_file(&env_path);
        }
    }
    let mut paths = vec![first];
    if let Some(bytes) = override_file {
        let second = dir.join("docker-compose.override.yml");
        std::fs::write(&second, bytes).expect("write the override file");
        paths.push(second);
    }
    let options = ImportOptions {
        output_dir: dir.join("out"),
        // A fixed environment: the outcome must depend on the input only.
        env: [("HOME".to_string(), "/home/fuzz".to_string())].into(),
        project: None,
    };
    match import(&paths, &options) {
        Ok(imported) => {
            let _ = imported.summary();
            // What the importer writes must read back with the loader's own YAML reader.
            for f in &imported.files {
                if let Err(d) = desired_state::yaml::parse_documents(&f.path, &f.content) {
                    panic!("the import does not parse back: {d}\n{}", f.content);
                }
            }
            for f in &imported.findings {
                let _ = format!("{f:?}");
            }
        }
        Err(diagnostic) => {
            let _ = diagnostic.to_string();
        }
    }
});
