//! Flags mean the same thing in every command: `-o` is an output format,
//! directories are `-d`/`--output-dir`, and every command's help shows an
//! example.

use clap::CommandFactory;
use controller::cli::Cli;
use std::process::Command;

/// Every command a user can run, with its path: ["secrets", "generate"].
fn leaves(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
    let subs: Vec<_> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .collect();
    if subs.is_empty() {
        out.push((path, cmd.clone()));
        return;
    }
    for s in subs {
        let mut p = path.clone();
        p.push(s.get_name().to_string());
        leaves(s, p, out);
    }
}

fn all_commands() -> Vec<(Vec<String>, clap::Command)> {
    let mut out = Vec::new();
    let mut root = Cli::command();
    root.build();
    leaves(&root, Vec::new(), &mut out);
    out
}

#[test]
fn every_command_s_help_shows_an_example() {
    let commands = all_commands();
    assert!(commands.len() > 15, "found only {}", commands.len());
    for (path, cmd) in commands {
        let help = cmd
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(
            help.contains("Examples:\n  lucidctl "),
            "`lucidctl {} --help` shows no example",
            path.join(" ")
        );
    }
}

#[test]
fn a_visible_dash_o_is_always_an_output_format() {
    for (path, cmd) in all_commands() {
        for arg in cmd.get_arguments() {
            if arg.get_short() == Some('o') && !arg.is_hide_set() {
                let names = arg.get_value_names().unwrap_or_default();
                assert_eq!(
                    names.first().map(|n| n.as_str()),
                    Some("FORMAT"),
                    "`lucidctl {} -o` is not an output format",
                    path.join(" ")
                );
            }
        }
    }
}

fn export(dir_flag: &str, out_dir: &std::path::Path) -> std::process::Output {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let secrets = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_lucidctl"))
        .args(["export", "compose", "-f"])
        .arg(root.join("configs/lucid"))
        .arg("--secrets-dir")
        .arg(secrets.path())
        .arg(dir_flag)
        .arg(out_dir)
        .output()
        .unwrap()
}

#[test]
fn export_writes_into_dash_d_and_the_old_dash_o_still_works_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let (new, old) = (tmp.path().join("new"), tmp.path().join("old"));
    let out = export("-d", &new);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("deprecated"), "{stderr}");
    assert!(new.join("docker-compose.master.yml").is_file());

    let out = export("-o", &old);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: -o ")
            && stderr.contains("deprecated")
            && stderr.contains("use -d"),
        "{stderr}"
    );
    assert!(old.join("docker-compose.master.yml").is_file());
}

fn diff_against(host: &str, verbose: bool) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lucidctl"));
    cmd.arg("diff")
        .arg("-f")
        .arg(root.join("configs/lucid"))
        .args(["-H", host]);
    if verbose {
        cmd.arg("--verbose");
    }
    let out = cmd.env_remove("LUCID_VERBOSE").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_unreachable_engine_says_which_socket_and_how_to_check_it() {
    let stderr = diff_against("unix:///nonexistent/docker.sock", false);
    assert!(
        stderr.contains("cannot reach the Docker engine at unix:///nonexistent/docker.sock"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n  fix: ") && stderr.contains("systemctl status docker"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("caused by"),
        "causes only with --verbose:\n{stderr}"
    );
}

#[test]
fn verbose_shows_the_chain_of_causes_down_to_the_root() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let plain = diff_against("tcp://127.0.0.1:1", false);
    assert!(
        plain.contains("Connection refused"),
        "the root cause leads:\n{plain}"
    );
    let verbose = diff_against("tcp://127.0.0.1:1", true);
    let causes = verbose.matches("\n  caused by: ").count();
    assert!(causes >= 2, "{verbose}");
    assert!(
        verbose.contains("fix: nothing accepts connections at tcp://127.0.0.1:1"),
        "{verbose}"
    );
}
