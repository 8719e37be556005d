//! lucidctl's exit code 2 means "the plan has changes". clap's usage errors
//! exit 2 by default; lucidctl's must exit 1 so that a typo in a CI script
//! never reads as "changes pending". The built binary, as a user runs it.

use std::process::Command;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn lucidctl(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_lucidctl"))
        .args(args)
        // Never reach an engine, whatever the machine has.
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn an_unknown_flag_exits_1_with_clap_s_message() {
    let out = lucidctl(&["diff", "--bogus-flag"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("error: unexpected argument '--bogus-flag' found"),
        "{out:?}"
    );
    assert!(out.stderr.contains("Usage: lucidctl diff"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    let out = lucidctl(&["--help"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("Usage: lucidctl"), "{out:?}");
    assert!(out.stdout.contains("completions"), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");

    let out = lucidctl(&["diff", "--help"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("--prune-volumes"), "{out:?}");

    let out = lucidctl(&["--version"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("lucidctl "), "{out:?}");
}

/// validate has no required argument of its own (-f has defaults), so a
/// missing required value (`-f` with nothing after it) is the case for it;
/// import compose's FILE is a truly required argument.
#[test]
fn a_missing_required_value_or_argument_exits_1() {
    let out = lucidctl(&["validate", "-f"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("a value is required for '--filename <PATH>' but none was supplied"),
        "{out:?}"
    );

    let out = lucidctl(&["import", "compose"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("the following required arguments were not provided"),
        "{out:?}"
    );
    assert!(out.stderr.contains("<FILE>..."), "{out:?}");
}

#[test]
fn other_usage_errors_exit_1_too() {
    for args in [
        &[][..],
        &["bogus"],
        &["validate", "-o", "yaml"],
        &["diff", "--prune-volumes"],
        &["apply", "--timeout", "soon"],
        &["completions", "tcsh"],
    ] {
        let out = lucidctl(args);
        assert_eq!(out.code, Some(1), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{args:?}: {out:?}");
    }
}
