//! What the `lucidctl` binary shares with its docs generator and tests: the
//! command-line definition ([`cli`]) and what is generated from it ([`docs`]).
//! The commands themselves live in the binary (src/main.rs).

pub mod cli;
pub mod docs;
pub mod exit;
pub mod logging;
pub mod terminal;

pub use exit::usage as usage_exit_code;

#[cfg(test)]
mod tests {
    use super::usage_exit_code;
    use crate::cli::Cli;
    use clap::Parser;

    fn code(args: &[&str]) -> u8 {
        let err = Cli::try_parse_from(args).expect_err("should not parse");
        usage_exit_code(&err)
    }

    #[test]
    fn help_and_version_exit_0() {
        assert_eq!(code(&["lucidctl", "--help"]), 0);
        assert_eq!(code(&["lucidctl", "-h"]), 0);
        assert_eq!(code(&["lucidctl", "diff", "--help"]), 0);
        assert_eq!(code(&["lucidctl", "help", "diff"]), 0);
        assert_eq!(code(&["lucidctl", "--version"]), 0);
    }

    #[test]
    fn every_usage_error_exits_1_never_2() {
        for args in [
            &["lucidctl", "diff", "--bogus-flag"][..],
            &["lucidctl"],
            &["lucidctl", "bogus"],
            &["lucidctl", "validate", "-f"],
            &["lucidctl", "validate", "-o", "yaml"],
            &["lucidctl", "diff", "--prune-volumes"],
            &["lucidctl", "apply", "--timeout", "soon"],
            &["lucidctl", "import", "compose"],
            &["lucidctl", "export"],
            &["lucidctl", "completions", "tcsh"],
        ] {
            assert_eq!(code(args), 1, "{args:?}");
        }
    }

    #[test]
    fn clap_itself_would_have_exited_2() {
        // The reason the mapping exists; fails if clap's default ever changes.
        let err = Cli::try_parse_from(["lucidctl", "diff", "--bogus-flag"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
