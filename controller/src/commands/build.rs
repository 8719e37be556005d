use super::context;
use super::fail;
use crate::cli::BuildArgs;
use crate::output::progress;
use reconcilers::apply::Builder;
use reconcilers::build::ImageBuilder;
use reconcilers::engine::EngineApi;
use reconcilers::plan::{plan, Action, PlanOptions, Target};
use std::process::ExitCode;
use std::time::Instant;

pub async fn run(args: BuildArgs) -> ExitCode {
    let loaded = match context::load(&args.source, &args.engine) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let engine = match context::connect(&args.engine).await {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    let wanted: Vec<String> = if args.force {
        let chosen = reconcilers::plan::active(&loaded.state, &args.selector);
        let refs: Vec<String> = chosen
            .iter()
            .filter_map(|i| match &loaded.state.resources[*i].spec {
                desired_state::model::Spec::Image(img) => Some(img.reference.with_default_tag()),
                _ => None,
            })
            .collect();
        loaded
            .builds
            .iter()
            .map(|b| b.reference.clone())
            .filter(|r| refs.contains(r))
            .collect()
    } else {
        // Up to date means: the tag's build-hash label equals the hash of the context, which needs one list call.
        let observed = match engine.observe(&Default::default()).await {
            Ok(o) => o,
            Err(e) => return fail(&e.to_string()),
        };
        let p = plan(
            &loaded.state,
            &observed,
            &loaded.inputs,
            &PlanOptions {
                selector: args.selector.clone(),
                ..Default::default()
            },
        );
        p.changes
            .iter()
            .filter(|c| c.action == Action::Build)
            .filter_map(|c| match &c.target {
                Target::Image { reference } => Some(reference.clone()),
                _ => None,
            })
            .collect()
    };
    if wanted.is_empty() {
        eprintln!("All {} image(s) are up to date.", loaded.builds.len());
        return ExitCode::SUCCESS;
    }
    let on_event = progress::build_event;
    let builder = ImageBuilder {
        builds: &loaded.builds,
        project: &args.engine.project,
        on_event: &on_event,
    };
    for reference in &wanted {
        let started = Instant::now();
        eprintln!("Image {reference}: building");
        if let Err(e) = builder.build(&engine, reference).await {
            return fail(&e);
        }
        eprintln!(
            "Image {reference}: built in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    ExitCode::SUCCESS
}
