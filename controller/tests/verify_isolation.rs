//! `lucidctl verify isolation` (issue 8) on small fake source trees in a temp
//! directory: the build plan's TRON isolation scan, the desired topology, and the
//! shipped configs/lucid policy. The built binary, as CI runs it; no engine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory per test (tests run in parallel), removed on drop.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("lucid-verify-{name}-"))
        .tempdir()
        .unwrap()
}

/// Writes `text` to `dir/rel`, creating parents.
fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// The build plan's rule in the issue's own layout: no TRON in blockchain/, no
/// payment in blockchain/core/, payment-system/ present and free of blockchain names.
const POLICY: &str = "---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: main}
spec: {driver: bridge}
---
apiVersion: lucid/v1alpha1
kind: Network
metadata: {name: iso}
spec: {driver: bridge}
---
apiVersion: lucid/v1alpha1
kind: IsolationPolicy
metadata: {name: tron-isolation}
spec:
  network: iso
  members: [tron-client]
  bridges: [payment-gateway]
  forbidden:
    - paths: [blockchain]
      patterns: [tron, TronWeb, USDT, TRX]
    - paths: [blockchain/core]
      patterns: [payment]
    - paths: [payment-system]
      patterns: [lucid-blockchain-engine, lucid-block-manager]
  requiredPaths: [payment-system]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: tron-client}
spec:
  image: busybox:1.36
  networks: [{name: iso}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: payment-gateway}
spec:
  image: busybox:1.36
  networks: [{name: main}, {name: iso}]
---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: block-manager}
spec:
  image: busybox:1.36
  networks: [{name: main}]
";

/// A source tree that keeps the rule: the blockchain side talks about blocks, the
/// payment side about TRON, and neither names the other.
const CLEAN: [(&str, &str); 4] = [
    (
        "blockchain/core/engine.py",
        "def anchor(session):\n    return block_hash(session)\n",
    ),
    (
        "blockchain/manager/main.py",
        "import core\nprint('blocks')\n",
    ),
    (
        "payment-system/tron_client.py",
        "from tronpy import Tron\nUSDT = 'TR7NHq'\nTRX = 1_000_000\n",
    ),
    (
        "payment-system/gateway.py",
        "API = 'http://lucid-tron-client:8091'\n",
    ),
];

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn lucidctl(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_lucidctl"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The policy in `state/` and `CLEAN` with `changes` applied under `src/`
/// (an empty text deletes that file; `rm:DIR` deletes a directory).
fn tree(name: &str, changes: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = temp_dir(name);
    let state = write(tmp.path(), "state/isolation.yaml", POLICY);
    for (rel, text) in CLEAN {
        write(tmp.path(), &format!("src/{rel}"), text);
    }
    for (rel, text) in changes {
        if let Some(dir) = rel.strip_prefix("rm:") {
            std::fs::remove_dir_all(tmp.path().join("src").join(dir)).unwrap();
        } else {
            write(tmp.path(), &format!("src/{rel}"), text);
        }
    }
    let src = tmp.path().join("src");
    (tmp, state, src)
}

fn verify(state: &Path, src: &Path) -> Out {
    lucidctl(&[
        "verify",
        "isolation",
        "-f",
        &state.display().to_string(),
        "--source",
        &src.display().to_string(),
    ])
}

#[test]
fn a_clean_tree_passes() {
    let (_tmp, state, src) = tree("clean", &[]);
    let out = verify(&state, &src);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("isolation verified: 1 polic(ies), no violations"),
        "{out:?}"
    );
    assert!(out.stderr.trim().is_empty(), "{out:?}");
}

#[test]
fn each_tron_name_in_the_blockchain_tree_fails_with_its_file_and_line() {
    for (pattern, line) in [
        ("tron", "import tronpy\n"),
        ("TronWeb", "const w = new TronWeb()\n"),
        ("USDT", "TOKEN = 'USDT'\n"),
        ("TRX", "fee_in_TRX = 1\n"),
    ] {
        let (_tmp, state, src) = tree(
            "tron",
            &[(
                "blockchain/manager/main.py",
                &format!("import core\n\n{line}"),
            )],
        );
        let out = verify(&state, &src);
        assert_eq!(out.code, 1, "{pattern}: {out:?}");
        let file = src.join("blockchain/manager/main.py");
        let at = format!("{}:3:", file.display());
        assert!(
            out.stderr.lines().any(|l| l.starts_with(&at)
                && l.contains(&format!("forbidden pattern {pattern:?} found"))),
            "{pattern}: no line starting {at}: {out:?}"
        );
        assert!(out.stderr.contains("1 isolation violation(s)"), "{out:?}");
    }
}

#[test]
fn payment_in_the_blockchain_core_fails_but_not_elsewhere_in_blockchain() {
    let (_tmp, state, src) = tree(
        "payment",
        &[
            (
                "blockchain/core/engine.py",
                "def anchor(session):\n    return block_hash(session)\n# payment hook\n",
            ),
            // Outside blockchain/core the word is allowed.
            (
                "blockchain/manager/main.py",
                "import core\n# no payment logic here\n",
            ),
        ],
    );
    let out = verify(&state, &src);
    assert_eq!(out.code, 1, "{out:?}");
    let at = format!("{}:3:3:", src.join("blockchain/core/engine.py").display());
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with(&at) && l.contains("\"payment\"")),
        "{out:?}"
    );
    assert!(!out.stderr.contains("manager/main.py"), "{out:?}");
    assert!(out.stderr.contains("1 isolation violation(s)"), "{out:?}");
}

#[test]
fn a_missing_payment_system_fails_at_the_policy_line_that_requires_it() {
    let (_tmp, state, src) = tree("missing", &[("rm:payment-system", "")]);
    let out = verify(&state, &src);
    assert_eq!(out.code, 1, "{out:?}");
    let required = format!(
        "required path {} does not exist",
        src.join("payment-system").display()
    );
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains(&required))
        .unwrap_or_else(|| panic!("{required:?} not reported: {out:?}"));
    // The policy's file and the line of `requiredPaths: [payment-system]`.
    let policy_line = POLICY
        .lines()
        .position(|l| l.starts_with("  requiredPaths:"))
        .unwrap()
        + 1;
    assert!(
        line.starts_with(&format!("{}:{policy_line}:", state.display())),
        "{line}"
    );
}

#[test]
fn blockchain_names_in_the_payment_system_fail() {
    let (_tmp, state, src) = tree(
        "reverse",
        &[(
            "payment-system/gateway.py",
            "API = 'http://lucid-tron-client:8091'\nANCHOR = 'http://lucid-blockchain-engine:8084'\n",
        )],
    );
    let out = verify(&state, &src);
    assert_eq!(out.code, 1, "{out:?}");
    let at = format!("{}:2:", src.join("payment-system/gateway.py").display());
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with(&at) && l.contains("\"lucid-blockchain-engine\"")),
        "{out:?}"
    );
}

#[test]
fn a_service_joining_the_isolated_network_without_being_listed_fails() {
    let (tmp, state, src) = tree("topology", &[]);
    let intruder = "---
apiVersion: lucid/v1alpha1
kind: Service
metadata: {name: block-manager}
spec:
  image: busybox:1.36
  networks: [{name: main}, {name: iso}]
";
    // A later -f is a merge patch on the service; its `networks` list replaces the old one.
    let patch = write(tmp.path(), "overlay/intruder.yaml", intruder);
    let out = lucidctl(&[
        "verify",
        "isolation",
        "-f",
        &state.display().to_string(),
        "-f",
        &patch.display().to_string(),
        "--source-dir",
        &src.display().to_string(),
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains(
            "Service/block-manager: spec.networks[1].name: joins iso, which IsolationPolicy/tron-isolation reserves"
        ),
        "{out:?}"
    );
}

/// The shipped policy (configs/lucid/isolation.yaml) applied to a fake checkout of
/// the Lucid sources: clean passes, one TRON import in a blockchain service fails.
#[test]
fn the_shipped_lucid_policy_accepts_a_clean_checkout_and_catches_tronweb() {
    let tmp = temp_dir("lucid");
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/lucid");
    for dir in [
        "blockchain-engine",
        "session-anchoring",
        "block-manager",
        "data-chain",
    ] {
        write(
            tmp.path(),
            &format!("images/{dir}/main.py"),
            "print('blocks')\n",
        );
    }
    for dir in [
        "tron-client",
        "payout-router",
        "wallet-manager",
        "usdt-manager",
        "trx-staking",
        "payment-gateway",
    ] {
        write(
            tmp.path(),
            &format!("images/{dir}/main.py"),
            "print('TRX payouts')\n",
        );
    }
    let run = || {
        lucidctl(&[
            "verify",
            "isolation",
            "-f",
            &configs.display().to_string(),
            "--source",
            &tmp.path().display().to_string(),
        ])
    };
    let clean = run();
    assert_eq!(clean.code, 0, "{clean:?}");

    let file = write(
        tmp.path(),
        "images/session-anchoring/anchor.js",
        "// anchors sessions\nconst tw = require('TronWeb');\n",
    );
    let dirty = run();
    assert_eq!(dirty.code, 1, "{dirty:?}");
    assert!(
        dirty
            .stderr
            .lines()
            .any(|l| l.starts_with(&format!("{}:2:", file.display())) && l.contains("TronWeb")),
        "{dirty:?}"
    );
}
