//! `teleseg train <family>`: one training run into a run folder.

use anyhow::bail;

use crate::checkpoint::{self, RunDir};
use crate::config::Checked;
use crate::job::{self, Globals, RunControl};
use crate::models::autoencoder::{AutoencoderJob, TrainReport, run_autoencoder_job};
use crate::models::dec::{DecJob, DecReport, run_dec_job, write_segments};

pub use crate::job::TrainArgs;

/// Loads the job config for a fresh run or for `--resume` (then from `RUN/config.toml`).
pub(crate) fn load_job<J: job::JobConfig>(
    args: &TrainArgs,
    globals: &Globals,
) -> anyhow::Result<Checked<J>> {
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

/// Runs `teleseg train autoencoder`: a fresh run folder, or `--resume RUN` continuing it.
pub fn train_autoencoder(args: &TrainArgs, globals: &Globals) -> anyhow::Result<TrainReport> {
    run_or_resume::<AutoencoderJob, _>(
        "train autoencoder",
        args,
        globals,
        &[],
        |job, run, g, resume| {
            let control = RunControl {
                resume,
                stop_after_epochs: None,
            };
            run_autoencoder_job(job, run, &control, g)
        },
    )
}

/// A job of `verb` that can resume: with `--resume RUN` (checked by [`resumable_run`] with
/// `phases`) `run` continues RUN in place from its own config (the folder is the user's already:
/// nothing to commit, nothing removed on failure); otherwise a fresh run as [`fresh_run`]. The
/// last argument of `run` says which.
pub(crate) fn run_or_resume<J: job::JobConfig, R>(
    verb: &str,
    args: &TrainArgs,
    globals: &Globals,
    phases: &[&str],
    run: impl FnOnce(&Checked<J>, &RunDir, &Globals, bool) -> anyhow::Result<R>,
) -> anyhow::Result<R> {
    if let Some(dir) = resumable_run(args, phases)? {
        let job: Checked<J> = load_job(args, globals)?;
        return run(&job, &dir, globals, true);
    }
    fresh_run(verb, args, globals, |job: &Checked<J>, dir, g| {
        run(job, dir, g, false)
    })
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
pub(crate) fn fresh_run<J: job::JobConfig, R>(
    verb: &str,
    args: &TrainArgs,
    globals: &Globals,
    run: impl FnOnce(&Checked<J>, &RunDir, &Globals) -> anyhow::Result<R>,
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
    run_or_resume::<DecJob, _>(
        "train dec",
        args,
        globals,
        &["autoencoder"],
        |job, run, g, resume| finish(job, run_dec_job(job, run, g, resume)?),
    )
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
