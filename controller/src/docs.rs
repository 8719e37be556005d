//! The command reference (Markdown), the man pages and the shell completions,
//! all generated from the clap definition in [`crate::cli`], so they cannot
//! drift from what the binary accepts. The generator walks whatever commands
//! and arguments clap knows: a new flag shows up after regenerating, with no
//! change here.

use crate::cli::Cli;
use clap::{Arg, ArgAction, Command, CommandFactory};
use clap_mangen::roff::{bold, roman, Roff};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The command that rewrites the committed files.
pub const REGENERATE: &str = "cargo run -p controller --example gen-docs";
/// Where the Markdown reference lives, relative to the repository root.
pub const REFERENCE: &str = "docs/reference.md";
/// Where the man pages live, relative to the repository root.
pub const MAN_DIR: &str = "docs/man";

/// An environment variable lucidctl reads itself (not through a clap `env =`).
pub struct EnvVar {
    pub name: &'static str,
    pub meaning: &'static str,
}

/// Every variable the code reads with `std::env::var`/`var_os`.
/// controller/tests/docs.rs fails when the source reads one that is not here
/// (or declared with `env =` on a flag, which is documented at the flag).
pub const ENVIRONMENT: &[EnvVar] = &[
    EnvVar {
        name: "DOCKER_HOST",
        meaning: "The engine to use when -H/--host is not given: unix:///path, tcp://host:port or ssh://user@host[:port]. Unset: unix:///var/run/docker.sock.",
    },
    EnvVar {
        name: "LUCID_SSH_CONFIG",
        meaning: "For ssh:// hosts, the ssh config file to use instead of ~/.ssh/config (as --ssh-config, `ssh -F`).",
    },
    EnvVar {
        name: "LUCID_VERBOSE",
        meaning: "When set (to anything), as --verbose: image builds print every output line of each build step, not only the step names (build, apply, run).",
    },
    EnvVar {
        name: "LUCID_ALLOW_EMULATION",
        meaning: "When set (to anything), an Image whose platform's architecture differs from the engine's is built instead of refused (build, apply, run); the engine host then needs qemu-user-static binfmt handlers.",
    },
    EnvVar {
        name: "RUST_LOG",
        meaning: "Log filter for the libraries' log lines on stderr (tracing's EnvFilter syntax), e.g. `debug` for every operation; default `info`.",
    },
    EnvVar {
        name: "TERM",
        meaning: "`dumb` turns apply's and delete's live progress lines into plain timestamped lines, as when stderr is not a terminal (--progress=auto).",
    },
    EnvVar {
        name: "NO_COLOR",
        meaning: "When set (to anything), plans print without colour (diff, apply --dry-run). Colour is also off when stdout is not a terminal.",
    },
    EnvVar {
        name: "DOCKER_CONFIG",
        meaning: "Directory of the docker CLI's config.json, whose `auths` give the registry credentials for pushing Images (`push: true`) and for registry prune. Default: $HOME/.docker.",
    },
    EnvVar {
        name: "HOME",
        meaning: "Locates $HOME/.docker when DOCKER_CONFIG is unset.",
    },
    EnvVar {
        name: "XDG_RUNTIME_DIR",
        meaning: "For ssh:// hosts, the forwarded engine socket lives in the private (0700) directory $XDG_RUNTIME_DIR/lucidctl/<pid>/, or, when it is unset, in $TMPDIR/lucidctl-<uid>/<pid>/ ($TMPDIR defaults to /tmp).",
    },
    EnvVar {
        name: "XDG_CACHE_HOME",
        meaning: "Build contexts' per-file digests are kept in $XDG_CACHE_HOME/lucidctl/build-digests/ (default ~/.cache/...), so an unchanged file is not read again; deleting the directory only costs one full read.",
    },
];

/// Said once after the list: the one command that reads the whole environment.
pub const ENVIRONMENT_NOTE: &str = "import compose interpolates ${VAR} in compose files from the whole environment, which wins over the .env file beside the first compose file, as compose does.";

/// The full command tree as clap builds it, without the `help` subcommand.
pub fn command() -> Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Every visible command, depth first, with its path (`["lucidctl", "export", "compose"]`).
fn walk(cmd: &Command) -> Vec<(Vec<String>, &Command)> {
    fn go<'a>(cmd: &'a Command, path: &[String], out: &mut Vec<(Vec<String>, &'a Command)>) {
        let mut here = path.to_vec();
        here.push(cmd.get_name().to_string());
        out.push((here.clone(), cmd));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            go(sub, &here, out);
        }
    }
    let mut out = Vec::new();
    go(cmd, &[], &mut out);
    out
}

/// Args worth documenting: not hidden, not clap's own -h/-V.
fn documented_args(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|a| {
        !a.is_hide_set()
            && !matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
    })
}

fn help_text(arg: &Arg) -> String {
    arg.get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default()
}

fn about_text(cmd: &Command) -> String {
    cmd.get_long_about()
        .or(cmd.get_about())
        .map(|h| h.to_string())
        .unwrap_or_default()
}

fn value_names(arg: &Arg) -> Vec<String> {
    match arg.get_value_names() {
        Some(names) => names.iter().map(|n| n.to_string()).collect(),
        None => vec![arg.get_id().as_str().to_uppercase()],
    }
}

fn takes_values(arg: &Arg) -> bool {
    arg.get_action().takes_values()
}

/// `-f, --filename <PATH>` or `<FILE>...`.
fn signature(arg: &Arg) -> String {
    let values = value_names(arg)
        .iter()
        .map(|v| format!("<{v}>"))
        .collect::<Vec<_>>()
        .join(" ");
    if arg.is_positional() {
        let many = matches!(arg.get_action(), ArgAction::Append)
            || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        return format!("{values}{}", if many { "..." } else { "" });
    }
    let mut names = Vec::new();
    if let Some(s) = arg.get_short() {
        names.push(format!("-{s}"));
    }
    if let Some(l) = arg.get_long() {
        names.push(format!("--{l}"));
    }
    let mut sig = names.join(", ");
    if takes_values(arg) {
        sig.push(' ');
        sig.push_str(&values);
    }
    sig
}

/// Escapes Markdown outside `code spans`, so `<DIR>` and `*.yaml` survive rendering.
fn md(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(part);
            continue;
        }
        for c in part.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '\\' | '*' | '_' | '[' | ']' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    out
}

/// Paragraphs of a help text, each on one line and ending as a sentence
/// (clap drops the full stop of a one-paragraph help).
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .map(|mut p| {
            if !p.ends_with(['.', '!', '?', ':']) {
                p.push('.');
            }
            p
        })
        .collect()
}

fn code_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|s| {
            if s.is_empty() {
                "`\"\"` (empty)".to_string()
            } else {
                format!("`{s}`")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One argument as a Markdown list item: signature, help, then the facts clap knows.
fn arg_markdown(arg: &Arg) -> String {
    let mut out = format!("- `{}`", signature(arg));
    let help = paragraphs(&help_text(arg));
    let mut first = true;
    for p in &help {
        if first {
            let _ = write!(out, ": {}", md(p));
            first = false;
        } else {
            let _ = write!(out, "\n\n  {}", md(p));
        }
    }
    let mut facts = Vec::new();
    if arg.is_required_set() {
        facts.push("Required.".to_string());
    }
    if !arg.is_positional() && matches!(arg.get_action(), ArgAction::Append) {
        facts.push("Repeatable.".to_string());
    }
    let aliases: Vec<String> = arg
        .get_visible_aliases()
        .unwrap_or_default()
        .iter()
        .map(|a| format!("--{a}"))
        .collect();
    if !aliases.is_empty() {
        facts.push(format!(
            "Alias: {}.",
            code_list(aliases.iter().map(String::as_str))
        ));
    }
    if takes_values(arg) {
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() {
            facts.push(format!(
                "Default: {}.",
                code_list(defaults.iter().map(String::as_str))
            ));
        }
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| match v.get_help() {
                Some(h) => format!(
                    "`{}` ({})",
                    v.get_name(),
                    md(h.to_string().trim_end_matches('.'))
                ),
                None => format!("`{}`", v.get_name()),
            })
            .collect();
        if !possible.is_empty() {
            facts.push(format!("Values: {}.", possible.join(", ")));
        }
    }
    if let Some(env) = arg.get_env() {
        facts.push(format!("Environment: `{}`.", env.to_string_lossy()));
    }
    if !facts.is_empty() {
        let sep = if help.len() > 1 { "\n\n  " } else { " " };
        let _ = write!(out, "{sep}{}", facts.join(" "));
    }
    out.push('\n');
    out
}

/// What makes two commands' arguments the same: the signature, help and facts.
fn arg_key(arg: &Arg) -> String {
    arg_markdown(arg)
}

/// Arguments that at least this many commands share are documented once.
const COMMON_MIN: usize = 3;

/// Shared arguments: (key, arg, commands using it), in first-use order.
fn common_args(root: &Command) -> Vec<(String, Arg, Vec<String>)> {
    let mut seen: Vec<(String, Arg, Vec<String>)> = Vec::new();
    for (path, cmd) in walk(root) {
        for arg in documented_args(cmd) {
            let key = arg_key(arg);
            match seen.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, _, users)) => users.push(path.join(" ")),
                None => seen.push((key, arg.clone(), vec![path.join(" ")])),
            }
        }
    }
    seen.retain(|(_, _, users)| users.len() >= COMMON_MIN);
    seen
}

fn anchor(path: &[String]) -> String {
    path.join("-")
}

/// Variables declared with `env =` on a flag: name -> ["`--host` (lucidctl diff)", ...].
fn clap_env_vars(root: &Command) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (path, cmd) in walk(root) {
        for arg in documented_args(cmd) {
            if let Some(env) = arg.get_env() {
                out.entry(env.to_string_lossy().into_owned())
                    .or_default()
                    .push((signature(arg), path.join(" ")));
            }
        }
    }
    out
}

/// docs/reference.md.
pub fn reference_markdown() -> String {
    let root = command();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- Generated from controller/src/cli.rs by `{REGENERATE}`; do not edit by hand. -->\n"
    );
    let _ = writeln!(out, "# `{}` command reference\n", root.get_name());
    for p in paragraphs(&about_text(&root)) {
        let _ = writeln!(out, "{}\n", md(&p));
    }
    let _ = writeln!(
        out,
        "Every command takes `-h` (short help) and `--help` (this text); `{} --version` prints the version. \
The same text is in the man pages (`man {}`, from `docs/man/`) and in `{} <command> --help`.\n",
        root.get_name(),
        root.get_name(),
        root.get_name()
    );
    let commands = walk(&root);
    let _ = writeln!(out, "## Commands\n");
    for (path, cmd) in commands.iter().skip(1) {
        let depth = path.len() - 2;
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{}- [`{}`](#{}): {}",
            "  ".repeat(depth),
            path.join(" "),
            anchor(path),
            md(&about)
        );
    }
    let common = common_args(&root);
    if !common.is_empty() {
        let _ = writeln!(out, "- [Common options](#common-options)");
    }
    let _ = writeln!(out, "- [Environment](#environment)\n");
    if !common.is_empty() {
        let _ = writeln!(out, "## Common options\n");
        let _ = writeln!(
            out,
            "Options that several commands take, with the same meaning in each.\n"
        );
        for (_, arg, users) in &common {
            let entry = arg_markdown(arg);
            let _ = writeln!(
                out,
                "{}\n  Taken by {}.\n",
                entry.trim_end(),
                code_list(users.iter().map(String::as_str))
            );
        }
    }
    for (path, cmd) in &commands {
        if path.len() == 1 {
            // The top level's about is the introduction above; document its own flags, if any.
            if documented_args(cmd).next().is_none() {
                continue;
            }
        }
        let _ = writeln!(out, "## `{}`\n", path.join(" "));
        if path.len() > 1 {
            for p in paragraphs(&about_text(cmd)) {
                let _ = writeln!(out, "{}\n", md(&p));
            }
        }
        let mut usage = (*cmd).clone();
        let usage = usage.render_usage().to_string();
        let _ = writeln!(out, "```text\n{}\n```\n", usage.trim_end());
        let subs: Vec<&Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
        if !subs.is_empty() {
            let _ = writeln!(out, "Subcommands:\n");
            for sub in subs {
                let mut sub_path = path.clone();
                sub_path.push(sub.get_name().to_string());
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "- [`{}`](#{}): {}",
                    sub.get_name(),
                    anchor(&sub_path),
                    md(&about)
                );
            }
            out.push('\n');
        }
        let positionals: Vec<&Arg> = documented_args(cmd).filter(|a| a.is_positional()).collect();
        let options: Vec<&Arg> = documented_args(cmd)
            .filter(|a| !a.is_positional())
            .collect();
        for (title, args) in [("Arguments", positionals), ("Options", options)] {
            if args.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{title}:\n");
            for arg in args {
                let key = arg_key(arg);
                if common.iter().any(|(k, _, _)| *k == key) {
                    let _ = writeln!(
                        out,
                        "- `{}`: see [Common options](#common-options).",
                        signature(arg)
                    );
                } else {
                    out.push_str(&arg_markdown(arg));
                }
            }
            out.push('\n');
        }
    }
    let _ = writeln!(out, "## Environment\n");
    let _ = writeln!(
        out,
        "Variables lucidctl reads. Where a flag names one, the flag wins.\n"
    );
    let declared = clap_env_vars(&root);
    let mut names: Vec<String> = ENVIRONMENT.iter().map(|v| v.name.to_string()).collect();
    names.extend(
        declared
            .keys()
            .filter(|k| !names.contains(k))
            .cloned()
            .collect::<Vec<_>>(),
    );
    for name in names {
        let mut line = format!("- `{name}`:");
        if let Some(v) = ENVIRONMENT.iter().find(|v| v.name == name) {
            let _ = write!(line, " {}", md(v.meaning));
        }
        if let Some(flags) = declared.get(&name) {
            let mut by_flag: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (flag, cmd) in flags {
                by_flag.entry(flag).or_default().push(cmd);
            }
            for (flag, cmds) in by_flag {
                let _ = write!(
                    line,
                    " The default of `{flag}` in {}.",
                    code_list(cmds.iter().copied())
                );
            }
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\n{}", md(ENVIRONMENT_NOTE));
    out
}

/// The man pages: `lucidctl.1` and one per visible subcommand (`lucidctl-export-compose.1`).
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let root = command();
    let mut pages = Vec::new();
    let all = walk(&root);
    let names: Vec<String> = all.iter().map(|(p, _)| p.join("-")).collect();
    for (path, cmd) in &all {
        let source = format!(
            "{} {}",
            root.get_name(),
            root.get_version().unwrap_or_default()
        );
        let man = clap_mangen::Man::new((*cmd).clone()).source(source.trim_end());
        let file = format!("{}.1", path.join("-"));
        let mut buf = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = man.render(&mut buf);
        let mut extra = Roff::new();
        if path.len() == 1 {
            extra.control("SH", ["ENVIRONMENT"]);
            let declared = clap_env_vars(&root);
            for v in ENVIRONMENT {
                extra.control("TP", [] as [&str; 0]);
                extra.text([bold(v.name)]);
                extra.text([roman(v.meaning)]);
            }
            for name in declared
                .keys()
                .filter(|k| !ENVIRONMENT.iter().any(|v| v.name == *k))
            {
                extra.control("TP", [] as [&str; 0]);
                extra.text([bold(name.as_str())]);
                extra.text([roman(
                    "The default of a flag; see the OPTIONS of each command.",
                )]);
            }
            extra.control("PP", [] as [&str; 0]);
            extra.text([roman(ENVIRONMENT_NOTE)]);
            extra.control("SH", ["SEE ALSO"]);
            let others: Vec<String> = names.iter().skip(1).map(|n| format!("{n}(1)")).collect();
            extra.text([roman(others.join(", "))]);
        } else {
            extra.control("SH", ["SEE ALSO"]);
            extra.text([roman(format!("{}(1)", root.get_name()))]);
        }
        buf.extend_from_slice(extra.render().as_bytes());
        pages.push((file, buf));
    }
    pages
}

/// Every generated file, relative to the repository root, with its content.
pub fn generated_files() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = vec![(PathBuf::from(REFERENCE), reference_markdown().into_bytes())];
    for (name, page) in man_pages() {
        files.push((Path::new(MAN_DIR).join(name), page));
    }
    files
}

/// Writes the man pages into `dir`, creating it. Returns the files written.
pub fn write_man_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, page) in man_pages() {
        let path = dir.join(name);
        std::fs::write(&path, page)?;
        written.push(path);
    }
    Ok(written)
}

/// A completion script for `shell`, as `lucidctl completions <shell>` prints it.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// The repository root (this crate's parent directory), for the generator and its test.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_escaped_outside_code_spans() {
        assert_eq!(
            md("under <DIR>/`<project>` *.yaml"),
            "under &lt;DIR&gt;/`<project>` \\*.yaml"
        );
        assert_eq!(md("a_b [x]"), "a\\_b \\[x\\]");
    }

    #[test]
    fn signatures_name_flags_values_and_positionals() {
        let root = command();
        let find = |path: &[&str], id: &str| -> String {
            let mut cmd = &root;
            for p in path {
                cmd = cmd.find_subcommand(p).unwrap();
            }
            signature(cmd.get_arguments().find(|a| a.get_id() == id).unwrap())
        };
        assert_eq!(find(&["validate"], "paths"), "-f, --filename <PATH>");
        assert_eq!(find(&["apply"], "dry_run"), "--dry-run");
        assert_eq!(find(&["import", "compose"], "files"), "<FILE>...");
    }

    #[test]
    fn the_reference_documents_defaults_env_and_values() {
        let md = reference_markdown();
        for want in [
            "## `lucidctl diff`",
            "## `lucidctl export compose`",
            "- `--prune-volumes`",
            "- `-H, --host <URL>`",
            "Environment: `DOCKER_HOST`.",
            "Values: `text` (Human-readable text), `json`",
            "Default: `configs/lucid`, `configs/lucid/overlays/local`.",
            "- `LUCID_VERBOSE`:",
            "- `LUCID_SSH_CONFIG`:",
        ] {
            assert!(md.contains(want), "{want:?} missing from the reference");
        }
        assert!(
            !md.contains("## `lucidctl man`"),
            "hidden commands stay out"
        );
        assert!(
            !md.contains("`-h, --help`"),
            "clap's own help flag is said once, not per command"
        );
    }

    #[test]
    fn a_man_page_per_visible_command() {
        let pages = man_pages();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "lucidctl.1");
        for want in [
            "lucidctl-diff.1",
            "lucidctl-export-compose.1",
            "lucidctl-completions.1",
        ] {
            assert!(names.contains(&want), "{want} missing: {names:?}");
        }
        assert!(!names.contains(&"lucidctl-man.1"));
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
        let top = String::from_utf8(pages[0].1.clone()).unwrap();
        assert!(top.contains(".SH ENVIRONMENT") && top.contains("LUCID_ALLOW_EMULATION"));
    }

    #[test]
    fn completions_cover_the_commands() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            for want in ["validate", "filename", "prune-volumes", "completions"] {
                assert!(text.contains(want), "{shell}: {want} missing");
            }
        }
    }
}
