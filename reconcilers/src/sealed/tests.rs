use super::keys::*;
use super::*;

fn x25519() -> (age::x25519::Identity, String) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    (id, public)
}

fn identity_file(dir: &Path, id: &age::x25519::Identity) -> PathBuf {
    use age::secrecy::ExposeSecret;
    let path = dir.join("key.txt");
    std::fs::write(
        &path,
        format!("# test key\n{}\n", id.to_string().expose_secret()),
    )
    .unwrap();
    path
}

#[test]
fn a_sealed_file_opens_with_its_identity_only_and_is_armored() {
    let t = tempfile::tempdir().unwrap();
    let (id, public) = x25519();
    let (other, _) = x25519();
    let recipients = parse_all(&[public], "test").unwrap();
    let sealing = Sealing {
        dir: t.path().join("sealed"),
        identity: Some(identity_file(t.path(), &id)),
    };
    let path = sealing.path_of("core");
    write_sealed(&path, "K=hunter2\n", &recipients).unwrap();
    let bytes = std::fs::read_to_string(&path).unwrap();
    assert!(
        bytes.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{bytes}"
    );
    assert!(!bytes.contains("hunter2"));
    let mut ids = None;
    assert_eq!(
        sealing.open("core", &mut ids).unwrap().as_deref(),
        Some("K=hunter2\n")
    );
    assert_eq!(sealing.open("absent", &mut ids).unwrap(), None);

    let other_key = t.path().join("other");
    std::fs::create_dir(&other_key).unwrap();
    let wrong = Sealing {
        identity: Some(identity_file(&other_key, &other)),
        ..sealing.clone()
    };
    let e = wrong.open("core", &mut None).unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(e.contains("cannot decrypt"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");

    let none = Sealing {
        identity: None,
        ..sealing
    };
    let e = none.open("core", &mut None).unwrap_err().to_string();
    assert!(e.contains("--age-identity"), "{e}");
}

#[test]
fn ssh_ed25519_recipients_and_identities_work() {
    let t = tempfile::tempdir().unwrap();
    let key = t.path().join("id_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&key)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: ssh-keygen is not available");
        return;
    }
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let recipients = parse_all(&[public.trim().to_string()], "test").unwrap();
    let sealed = seal_bytes("A=1\n", &recipients).unwrap();
    let ids = load_identities(&key).unwrap();
    assert_eq!(open_bytes(&sealed, &ids).unwrap(), "A=1\n");
}

#[test]
fn recipients_files_have_comments_and_bad_lines_are_named() {
    let t = tempfile::tempdir().unwrap();
    assert!(read_recipients_file(t.path()).unwrap().is_none());
    let (_, public) = x25519();
    std::fs::write(
        t.path().join(RECIPIENTS_FILE),
        recipients_file_text(std::slice::from_ref(&public)),
    )
    .unwrap();
    assert_eq!(
        read_recipients_file(t.path()).unwrap(),
        Some(vec![public.clone()])
    );
    std::fs::write(
        t.path().join(RECIPIENTS_FILE),
        format!("{public}  # ops laptop\n\nnot-a-key\n"),
    )
    .unwrap();
    let e = read_recipients_file(t.path()).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "{}:3: bad recipient",
            t.path().join(RECIPIENTS_FILE).display()
        )),
        "{e}"
    );
}

#[test]
fn differing_keys_names_keys_only() {
    let a = BTreeMap::from([("A".to_string(), "1".to_string()), ("B".into(), "2".into())]);
    let b = BTreeMap::from([
        ("A".to_string(), "1".to_string()),
        ("B".into(), "3".into()),
        ("C".into(), "x".into()),
    ]);
    assert_eq!(differing_keys(&a, &b), vec!["B", "C"]);
    assert!(differing_keys(&a, &a).is_empty());
}

#[test]
fn the_default_sealed_dir_sits_beside_the_state() {
    assert_eq!(
        default_sealed_dir(Path::new("/nonexistent/configs/lucid.yaml")),
        PathBuf::from("/nonexistent/sealed")
    );
}
