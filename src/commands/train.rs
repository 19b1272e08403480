//! `teleseg train <family>`: one training run into a run folder.

use anyhow::bail;

use crate::checkpoint::{self, RunDir};
use crate::job::{self, Globals, RunControl, new_run_dir};
use crate::models::autoencoder::{self, AutoencoderJob, TrainReport, run_autoencoder_job};
use crate::models::dec::{DecJob, DecReport, run_dec_job, write_segments};

pub use crate::job::TrainArgs;

/// Loads the job config for a fresh run or for `--resume` (then from `RUN/config.toml`).
pub(crate) fn load_job<J: job::JobConfig>(
    args: &TrainArgs,
    globals: &Globals,
) -> anyhow::Result<J> {
    match &args.resume {
        Some(run) => {
            if args.config.is_some() {
                tracing::warn!(
                    "--resume: the run's own config.toml is used; --config is ignored (use --set to change e.g. train.epochs)"
                );
            }
            let path = RunDir { root: run.clone() }.config();
            job::load_config(Some(&path), &args.overrides, globals)
        }
        None => job::load_config(args.config.as_deref(), &args.overrides, globals),
    }
}

/// Runs `teleseg train autoencoder`.
pub fn train_autoencoder(args: &TrainArgs, globals: &Globals) -> anyhow::Result<TrainReport> {
    let job: AutoencoderJob = load_job(args, globals)?;
    if let Some(run) = resumable_run(args, &[])? {
        let control = RunControl {
            resume: true,
            stop_after_epochs: None,
        };
        return run_autoencoder_job(&job, &run, &control, globals);
    }
    let run = new_run_dir(&job.output, autoencoder::KIND, args.force)?;
    let report = run_autoencoder_job(&job, &run, &RunControl::default(), globals)?;
    run.commit()?;
    Ok(report)
}

/// The run folder `--resume` names, checked to hold a complete `last/` of its own or of one of
/// its first `phases` (sub-runs such as a dec run's `autoencoder/` pretraining) (None without
/// --resume).
pub(crate) fn resumable_run(args: &TrainArgs, phases: &[&str]) -> anyhow::Result<Option<RunDir>> {
    let Some(root) = &args.resume else {
        return Ok(None);
    };
    let run = RunDir { root: root.clone() };
    let in_phase = phases
        .iter()
        .any(|p| RunDir { root: root.join(p) }.last_complete().is_some());
    if run.last_complete().is_none() && !in_phase {
        let also = match phases {
            [] => String::new(),
            _ => format!(" (or {}/last/)", phases.join("/last/ or ")),
        };
        bail!(checkpoint::CheckpointError::NotFound {
            path: run.last(),
            expected: format!(
                "last/training_state.json{also} from an earlier run (was it trained with this teleseg?)"
            ),
        });
    }
    Ok(Some(run))
}

/// A job of `verb` in a fresh run folder: config loaded, folder created, `run` called, the
/// folder committed when it succeeds (removed when it fails; see [`job::NewRun`]).
fn fresh_run<J: job::JobConfig, R>(
    verb: &str,
    args: &TrainArgs,
    globals: &Globals,
    run: impl FnOnce(&J, &RunDir, &Globals) -> anyhow::Result<R>,
) -> anyhow::Result<R> {
    let (job, dir) = job::start::<J>(verb, args, globals)?;
    let report = run(&job, &dir, globals)?;
    dir.commit()?;
    Ok(report)
}

/// Runs `teleseg train dec`: a fresh run folder, or `--resume RUN` continuing it (in the
/// pretraining or the clustering phase, whichever it was in).
pub fn train_dec(args: &TrainArgs, globals: &Globals) -> anyhow::Result<DecReport> {
    let finish = |job: &DecJob, mut report: DecReport| -> anyhow::Result<DecReport> {
        let segments = write_segments(job, &report)?;
        let checked = segments
            .methods
            .get("dec")
            .is_some_and(|m| m.external.is_some());
        report.labels_checked = checked.then_some(segments.beaten_by);
        Ok(report)
    };
    if let Some(run) = resumable_run(args, &["autoencoder"])? {
        let job: DecJob = load_job(args, globals)?;
        let report = run_dec_job(&job, &run, globals, true)?;
        return finish(&job, report);
    }
    let (job, run) = job::start::<DecJob>("train dec", args, globals)?;
    let report = finish(&job, run_dec_job(&job, &run, globals, false)?)?;
    run.commit()?;
    Ok(report)
}

/// Runs `teleseg train propensity` with a fresh run folder.
pub fn train_propensity(
    args: &TrainArgs,
    globals: &Globals,
) -> anyhow::Result<crate::models::propensity::PropensityReport> {
    use crate::models::propensity::{PropensityJob, run_propensity_job};
    fresh_run::<PropensityJob, _>("train propensity", args, globals, run_propensity_job)
}

/// `teleseg train forecast`.
pub fn train_forecast(
    args: &TrainArgs,
    globals: &Globals,
) -> anyhow::Result<crate::models::forecast::ForecastReport> {
    use crate::models::forecast::{ForecastJob, run_forecast_job};
    fresh_run::<ForecastJob, _>("train forecast", args, globals, run_forecast_job)
}

/// `teleseg train offer-propensity`.
pub fn train_offer_propensity(
    args: &TrainArgs,
    globals: &Globals,
) -> anyhow::Result<crate::models::propensity::offers_job::OfferPropensityReport> {
    use crate::models::propensity::offers::OfferPropensityJob;
    use crate::models::propensity::offers_job::run_offer_propensity_job;
    fresh_run::<OfferPropensityJob, _>(
        "train offer-propensity",
        args,
        globals,
        run_offer_propensity_job,
    )
}

/// `teleseg train policy`.
pub fn train_policy(
    args: &TrainArgs,
    globals: &Globals,
) -> anyhow::Result<crate::models::policy::job::PolicyReport> {
    use crate::models::policy::{PolicyJob, job::run_policy_job};
    fresh_run::<PolicyJob, _>("train policy", args, globals, run_policy_job)
}
