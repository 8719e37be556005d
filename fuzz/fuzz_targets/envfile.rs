//! Arbitrary bytes through the env-file parser (SecretSets, compose's
//! `env_file:` and `.env`): nothing may panic, and what it returns must be
//! consistent with its own input.

#![no_main]

use desired_state::envfile::parse_env_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Env files are read as text; bytes that are not UTF-8 are replaced, as a lossy read would.
    let text = String::from_utf8_lossy(data);
    let env = parse_env_file(&text);
    // Every entry comes from some line, so there are never more entries than lines.
    assert!(env.len() <= text.lines().count());
    for (key, value) in &env {
        // Keys and values are slices of one line each.
        assert!(!key.contains('\n') && !value.contains('\n'));
        assert!(text.contains(key.as_str()) && text.contains(value.as_str()));
    }
});
