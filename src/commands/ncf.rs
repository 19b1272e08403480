//! `teleseg train ncf` and `teleseg evaluate ncf`: the verbs over the offer-ranking family
//! (`models::ncf`).

use std::path::Path;

use anyhow::{Context, bail};

use crate::checkpoint::{Checkpoint, RunDir, keys};
use crate::data::interactions::leave_last_out;
use crate::job::{Globals, TrainArgs};
use crate::models::ncf::infer::NcfModel;
use crate::models::ncf::{
    EvaluationReport, KIND, NcfJob, NcfReport, evaluate_split, load_interactions, run_ncf_job,
};

/// Runs `teleseg train ncf`: a fresh run folder, or `--resume RUN` continuing it (in the GMF / MLP
/// pretraining or in the model's own training, whichever it was in).
pub fn train_ncf(args: &TrainArgs, globals: &Globals) -> anyhow::Result<NcfReport> {
    crate::commands::train::run_or_resume::<NcfJob, _>(
        "train ncf",
        args,
        globals,
        &["pretrain-gmf", "pretrain-mlp"],
        run_ncf_job,
    )
}

/// Runs `teleseg evaluate ncf`: reloads the run's data (paths from the checkpoint's config),
/// checks the id maps still match and evaluates at cut-off `k` (default: the run's).
pub fn evaluate_ncf(
    checkpoint_path: &Path,
    k: Option<usize>,
    globals: &Globals,
) -> anyhow::Result<EvaluationReport> {
    let file = RunDir::resolve_model_file(checkpoint_path)?;
    let ck = Checkpoint::read(&file, Some(KIND))?;
    let job: NcfJob = ck.meta_json(keys::CONFIG)?;
    let model = NcfModel::load(&file, &globals.backend.device)?;
    let ix = load_interactions(&job.data).with_context(|| {
        format!(
            "reloading the training data named in {} (teleseg.config)",
            file.display()
        )
    })?;
    if ix.users != model.users || ix.items != model.items {
        bail!(crate::error::UsageError(format!(
            "{}: the data files named in the checkpoint's config changed since training (their \
             user/item ids differ from the checkpoint's id maps)",
            file.display()
        )));
    }
    let split = leave_last_out(&ix);
    let k = k.unwrap_or(job.sampling.k);
    if k == 0 {
        bail!(crate::error::UsageError("--k must be at least 1".into()));
    }
    Ok(evaluate_split(&model, &ix, &split, &job, k))
}
