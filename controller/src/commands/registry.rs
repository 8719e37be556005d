use super::fail;
use crate::cli::RegistryCommand;
use reconcilers::engine::Engine;
use reconcilers::registry::{docker_credentials, in_namespace, Registry};
use std::process::ExitCode;

pub async fn run(cmd: RegistryCommand) -> ExitCode {
    let RegistryCommand::Prune(args) = cmd;
    let server = args
        .registry
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let registry = Registry::new(&args.registry, docker_credentials(&server).as_ref());
    let (namespace, dry_run) = (args.namespace.clone(), args.dry_run);
    let removed =
        match tokio::task::spawn_blocking(move || registry.prune(&namespace, dry_run)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return fail(&e.to_string()),
            Err(e) => return fail(&e.to_string()),
        };
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for r in &removed {
        println!("{verb} {server}/{}:{} ({})", r.repository, r.tag, r.digest);
    }
    println!(
        "{} tag(s) {verb} from {server}/{}",
        removed.len(),
        args.namespace
    );
    if args.local {
        let engine = match Engine::connect(args.host.as_deref()).await {
            Ok(e) => e,
            Err(e) => return fail(&e.to_string()),
        };
        let tags = match engine.image_tags().await {
            Ok(t) => t,
            Err(e) => return fail(&e.to_string()),
        };
        for tag in tags.iter().filter(|t| {
            in_namespace(t, &args.namespace)
                || in_namespace(t, &format!("{server}/{}", args.namespace))
        }) {
            if !args.dry_run {
                if let Err(e) = engine.remove_image(tag).await {
                    return fail(&e.to_string());
                }
            }
            println!("{verb} local image {tag}");
        }
        if !args.dry_run {
            match engine.prune_build_cache().await {
                Ok(bytes) => println!("build cache: {} MB reclaimed", bytes / 1_000_000),
                Err(e) => return fail(&e.to_string()),
            }
        }
    }
    ExitCode::SUCCESS
}
