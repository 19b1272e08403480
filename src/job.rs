//! The job skeleton every verb runs on: the global options, a fresh run folder that is removed
//! again if the job fails ([`NewRun`]), and the customer data read, split and preprocessed (or
//! generated when no data is configured, decided in [`ensure_data`] alone).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::backend::Backend;
use crate::checkpoint::{CheckpointError, RunDir};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{Check, Checked, DataConfig, OutputConfig, Seed};
use crate::data::check::summarize;
use crate::data::generate::generate;
use crate::data::preprocess::{Features, Preprocessor};
use crate::data::reader::{ReadOptions, read_csv};
use crate::data::schema::Schema;
use crate::data::split::split_indices;
use crate::data::table::RawTable;
use crate::progress::Progress;

/// Options every verb shares (the global flags).
#[derive(Debug, Clone)]
pub struct Globals {
    pub backend: Backend,
    pub progress: Progress,
    /// `--seed`, overriding the config's seed when given.
    pub seed: Option<u64>,
}

/// Options of `teleseg train <family>`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrainArgs {
    /// Config TOML (default: the embedded configs/<family>.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one config value, e.g. `--set train.learning_rate=0.01` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Continue the run folder RUN from its last completed epoch (bit-exact on CPU backends;
    /// the architecture and data come from the run, not the new config).
    #[arg(long, value_name = "RUN")]
    pub resume: Option<PathBuf>,
    /// Replace an existing run folder of the same name.
    #[arg(long)]
    pub force: bool,
}

/// A job's configuration, as the skeleton needs it: every `teleseg train <family>` job and the
/// pipeline implement it next to their config section.
pub trait JobConfig: DeserializeOwned + Serialize + Check {
    /// The run kind: the prefix of default run names (and the checkpoint kind of families).
    const KIND: &'static str;
    /// The embedded default config (the text of `configs/<kind>.toml`).
    const DEFAULT: &'static str;
    /// The seed every stage of the job derives its randomness from.
    fn seed_mut(&mut self) -> &mut Seed;
    /// Where the run folder goes.
    fn output(&self) -> &OutputConfig;
}

/// Implements [`JobConfig`] for a job struct with `seed: Seed` and `output: OutputConfig` fields:
/// `job_config!(Type, KIND, DEFAULT)`.
#[macro_export]
macro_rules! job_config {
    ($job:ty, $kind:expr, $default:expr) => {
        impl $crate::job::JobConfig for $job {
            const KIND: &'static str = $kind;
            const DEFAULT: &'static str = $default;
            fn seed_mut(&mut self) -> &mut $crate::config::Seed {
                &mut self.seed
            }
            fn output(&self) -> &$crate::config::OutputConfig {
                &self.output
            }
        }
    };
}

/// Loads a job's config: `config` (else the embedded default) with the `--set` overrides and
/// `--seed` when given, checked.
pub fn load_config<J: JobConfig>(
    config: Option<&Path>,
    overrides: &[String],
    globals: &Globals,
) -> anyhow::Result<Checked<J>> {
    Ok(crate::config::load_with(
        config,
        J::DEFAULT,
        overrides,
        |job: &mut J| {
            if let Some(seed) = globals.seed {
                *job.seed_mut() = Seed(seed);
            }
        },
    )?)
}

/// Tests: `J`'s embedded default with `overrides`, as `--set` gives them, checked; the broken
/// rule itself on failure.
#[cfg(test)]
pub(crate) fn parse_default<J: JobConfig>(
    overrides: &[&str],
) -> Result<J, crate::config::ConfigError> {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    crate::config::parse(J::DEFAULT, J::KIND, &o)
        .map(Checked::into_inner)
        .map_err(crate::config::ConfigError::into_rule)
}

/// Starts a fresh job of `verb` (e.g. `train dec`): its config loaded and checked and a new run
/// folder created (provisional until [`NewRun::commit`]). `--resume` is refused here for the
/// jobs that cannot resume yet.
pub fn start<J: JobConfig>(
    verb: &str,
    args: &TrainArgs,
    globals: &Globals,
) -> anyhow::Result<(Checked<J>, NewRun)> {
    if args.resume.is_some() {
        anyhow::bail!(crate::error::UsageError(format!(
            "--resume is not supported for `{verb}` yet: start a fresh run"
        )));
    }
    let job: Checked<J> = load_config(args.config.as_deref(), &args.overrides, globals)?;
    let run = new_run_dir(job.output(), J::KIND, args.force)?;
    Ok((job, run))
}

/// Fewer training rows than this is a usage error: no model (nor its preprocessing, fitted on
/// them) learns anything from one customer.
pub const MIN_TRAIN_ROWS: usize = 2;

/// Data read, split and preprocessed for a job.
pub struct PreparedData {
    pub schema: Schema,
    pub schema_path: PathBuf,
    pub customers_path: PathBuf,
    pub table: RawTable,
    pub preprocessor: Preprocessor,
    pub train_rows: Vec<usize>,
    pub valid_rows: Vec<usize>,
    pub test_rows: Vec<usize>,
    pub train: Features,
    pub valid: Features,
    /// The data summary text (rows, missing shares, categories, clipping).
    pub summary: String,
}

/// Reads the configured data (or generates it into `run/data`), splits it by customer id and
/// fits the preprocessing on the training split.
pub fn prepare_data(
    data: &DataConfig,
    seed: u64,
    run: &RunDir,
    progress: &Progress,
) -> anyhow::Result<PreparedData> {
    let _span = tracing::info_span!("data").entered();
    let (customers_path, schema_path) = match (&data.customers, &data.schema) {
        (Some(c), Some(s)) => (c.clone(), s.clone()),
        _ => {
            let dir = run.root.join("data");
            let spinner = progress.spinner("generate");
            spinner.set_message(format!("{} synthetic customers", data.generate_customers));
            generate(&data.generate_options(seed, dir.clone()))
                .with_context(|| format!("generating synthetic data into {}", dir.display()))?;
            spinner.finish_and_clear();
            (dir.join("customers.csv"), dir.join("schema.toml"))
        }
    };
    let schema = Schema::load(&schema_path)?;
    let read_opts = ReadOptions {
        on_bad_row: data.on_bad_row,
    };
    let (table, report) = read_csv(&customers_path, &schema, &read_opts)?;
    let split = split_indices(&table.ids, seed, data.valid_fraction, data.test_fraction);
    if split.train.len() < MIN_TRAIN_ROWS {
        anyhow::bail!(crate::error::UsageError(format!(
            "{}: {} customer row(s) leave {} for training (data.valid_fraction = {}, \
             data.test_fraction = {}); a model needs at least {MIN_TRAIN_ROWS}",
            customers_path.display(),
            table.ids.len(),
            split.train.len(),
            data.valid_fraction,
            data.test_fraction
        )));
    }
    let preprocessor = Preprocessor::fit(&schema, &table, &split.train)
        .with_context(|| format!("fitting preprocessing on {}", customers_path.display()))?;
    let train = preprocessor.transform_rows(&table, &split.train)?;
    let valid = preprocessor.transform_rows(&table, &split.valid)?;
    let summary = summarize(&schema, &table, &report, Some(&preprocessor)).to_string();
    tracing::info!(
        rows = table.ids.len(),
        train = split.train.len(),
        valid = split.valid.len(),
        test = split.test.len(),
        features = preprocessor.n_features(),
        "data ready"
    );
    Ok(PreparedData {
        schema,
        schema_path,
        customers_path,
        table,
        preprocessor,
        train_rows: split.train,
        valid_rows: split.valid,
        test_rows: split.test,
        train,
        valid,
        summary,
    })
}

/// A run folder this command is creating. Until [`NewRun::commit`] it is provisional: if the
/// job fails (an error or a panic unwinds past it), the folder is removed and the run it replaces
/// under `--force` is put back, so a failed job loses nothing and leaves no partial run. A folder
/// that already holds a resume state (`last/`) is kept, since `--resume` can continue it. A killed
/// process (SIGKILL, power loss) runs no cleanup: its folder stays for `--resume`, and a replaced
/// run stays in the hidden `.<name>.replaced` sibling until it is moved back.
#[derive(Debug)]
pub struct NewRun {
    run: RunDir,
    /// Where the run this one replaces (`--force`) waits until the job succeeds.
    replaced: Option<PathBuf>,
    committed: bool,
}

impl NewRun {
    /// An existing run folder that `--resume` continues: the user's already, so a failure
    /// leaves it as it is and there is nothing to commit.
    pub fn existing(root: &Path) -> NewRun {
        NewRun {
            run: RunDir {
                root: root.to_path_buf(),
            },
            replaced: None,
            committed: true,
        }
    }

    /// The job succeeded: the run folder stays and the run it replaced is deleted.
    pub fn commit(mut self) -> anyhow::Result<()> {
        self.committed = true;
        if let Some(old) = self.replaced.take() {
            std::fs::remove_dir_all(&old).with_context(|| {
                format!("removing {} (the run replaced by --force)", old.display())
            })?;
        }
        Ok(())
    }

    fn roll_back(&mut self) -> std::io::Result<()> {
        let root = &self.run.root;
        match self.replaced.take() {
            Some(old) => {
                if root.exists() {
                    std::fs::remove_dir_all(root)?;
                }
                std::fs::rename(&old, root)?;
                tracing::warn!(run = %root.display(), "the job failed: the previous run is back in place");
            }
            None if self.run.last_complete().is_some() => {
                tracing::warn!(run = %root.display(), "the job failed: the run folder is kept for --resume");
            }
            None => {
                if root.exists() {
                    std::fs::remove_dir_all(root)?;
                }
            }
        }
        Ok(())
    }
}

impl std::ops::Deref for NewRun {
    type Target = RunDir;
    fn deref(&self) -> &RunDir {
        &self.run
    }
}

impl Drop for NewRun {
    fn drop(&mut self) {
        if !self.committed
            && let Err(e) = self.roll_back()
        {
            tracing::error!(run = %self.run.root.display(), "cleaning up after the failed job: {e}");
        }
    }
}

/// Creates a fresh run folder, refusing to replace an existing one unless `force`. With `force`
/// the existing run is moved aside and deleted only once the new job commits.
pub fn create_run_dir(root: &Path, force: bool) -> anyhow::Result<NewRun> {
    let mut replaced = None;
    if root.exists() {
        if !force {
            return Err(CheckpointError::RunExists {
                path: root.to_path_buf(),
            }
            .into());
        }
        let name = root
            .file_name()
            .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
        let aside = root.with_file_name(format!(".{name}.replaced"));
        if aside.exists() {
            anyhow::bail!(crate::error::UsageError(format!(
                "{} holds the run an interrupted --force run replaced: move it back to {} or delete it, then retry",
                aside.display(),
                root.display()
            )));
        }
        std::fs::rename(root, &aside).with_context(|| {
            format!(
                "moving {} aside to {} (--force)",
                root.display(),
                aside.display()
            )
        })?;
        replaced = Some(aside);
    }
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating output folder {}", parent.display()))?;
    }
    // `create_dir`, not `create_dir_all`: it fails when the folder exists, so of two jobs that
    // reach this line for the same folder at once exactly one gets it.
    match std::fs::create_dir(root) {
        Ok(()) => Ok(NewRun {
            run: RunDir {
                root: root.to_path_buf(),
            },
            replaced,
            committed: false,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Another job created it between our check and here. Never touch its folder; put
            // back the run --force moved aside when that is still possible.
            if let Some(aside) = &replaced {
                tracing::warn!(
                    replaced = %aside.display(),
                    "another job took the run folder: the run --force replaced stays aside"
                );
            }
            Err(CheckpointError::RunExists {
                path: root.to_path_buf(),
            }
            .into())
        }
        Err(e) => {
            if let Some(aside) = &replaced {
                let _ = std::fs::rename(aside, root);
            }
            Err(anyhow::Error::new(e).context(format!("creating run folder {}", root.display())))
        }
    }
}

/// The run folder a job's `[output]` section names (`dir/run_name`, or `dir/<kind>-<UTC time>`),
/// created fresh (see [`NewRun`]); an existing one is replaced only with `force`.
pub fn new_run_dir(output: &OutputConfig, kind: &str, force: bool) -> anyhow::Result<NewRun> {
    if output.dir.exists() && !output.dir.is_dir() {
        anyhow::bail!(crate::error::UsageError(format!(
            "output.dir = {}: is a file, not a folder",
            output.dir.display()
        )));
    }
    match &output.run_name {
        Some(name) => create_run_dir(&output.dir.join(name), force),
        None => {
            // Timestamped names collide when jobs start within the same second (even in
            // parallel processes): the first job takes `<kind>-<time>`, the next ones `-2`, `-3`…
            // A default name never replaces anything, with or without --force.
            let base = default_run_name(kind);
            for n in 1..=1000 {
                let name = match n {
                    1 => base.clone(),
                    n => format!("{base}-{n}"),
                };
                match create_run_dir(&output.dir.join(&name), false) {
                    Err(e)
                        if matches!(
                            e.downcast_ref::<CheckpointError>(),
                            Some(CheckpointError::RunExists { .. })
                        ) => {}
                    other => return other,
                }
            }
            anyhow::bail!(
                "{}: no free run folder name {base}[-2..-1000]; set output.run_name",
                output.dir.display()
            )
        }
    }
}

/// `<kind>-YYYYMMDD-HHMMSS` in UTC.
pub fn default_run_name(kind: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{kind}-{}", crate::date::compact_utc(secs))
}

/// How a job runs besides its config.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunControl {
    /// Continue from `run/last` when it holds a resume state (a run without one starts fresh).
    pub resume: bool,
    /// Stop after this many epochs of this invocation, as an interruption would (the run can be
    /// resumed). Used to test exact resume and for time-boxed runs.
    pub stop_after_epochs: Option<usize>,
}

/// Writes a job's resolved config to `run/config.toml`, except that a resumed job keeps the one
/// it started with (a phase of a resumed job that had not started yet writes its own).
pub fn save_config(run: &RunDir, resolved: &str, resume: bool) -> anyhow::Result<()> {
    if !resume || !run.config().is_file() {
        crate::checkpoint::write_atomic(&run.config(), resolved.as_bytes())?;
    }
    Ok(())
}

/// Generates the synthetic data once into `run/data` when `data` names no files.
pub fn ensure_data(data: &DataConfig, seed: u64, run: &RunDir) -> anyhow::Result<DataConfig> {
    let mut data = data.clone();
    if data.customers.is_none() {
        let dir = run.root.join("data");
        let opts = data.generate_options(seed, dir.clone());
        crate::data::generate::generate(&opts).context("generating the synthetic data set")?;
        data.customers = Some(dir.join("customers.csv"));
        data.schema = Some(dir.join("schema.toml"));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_started_together_get_their_own_run_folders() {
        let dir = tempfile::tempdir().unwrap();
        let output = crate::config::OutputConfig {
            dir: dir.path().join("runs"),
            run_name: None,
        };
        // Eight jobs at once, the same output folder, default (timestamped) names: the same
        // second for most of them. Each must get a folder of its own.
        let barrier = std::sync::Barrier::new(8);
        let runs: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let run = new_run_dir(&output, "ae", true).unwrap();
                        let root = run.root.clone();
                        run.commit().unwrap();
                        root
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut distinct = runs.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "{runs:?}");
        assert!(runs.iter().all(|r| r.is_dir()));
    }

    #[test]
    fn existing_run_is_not_replaced_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r");
        create_run_dir(&run, false).unwrap().commit().unwrap();
        std::fs::write(run.join("keep"), "x").unwrap();
        let err = create_run_dir(&run, false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert!(run.join("keep").exists());
        create_run_dir(&run, true).unwrap().commit().unwrap();
        assert!(!run.join("keep").exists());
        assert!(run.is_dir());
        let siblings: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(siblings.len(), 1, "the replaced run is deleted on commit");
    }

    #[test]
    fn failed_job_removes_its_folder_and_restores_the_replaced_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r");
        // A fresh run that fails (dropped without commit) leaves nothing.
        let fresh = create_run_dir(&run, false).unwrap();
        std::fs::write(run.join("config.toml"), "partial").unwrap();
        drop(fresh);
        assert!(!run.exists());

        // A --force run that fails puts the old run back, byte for byte.
        create_run_dir(&run, false).unwrap().commit().unwrap();
        std::fs::write(run.join("model.safetensors"), "old").unwrap();
        let forced = create_run_dir(&run, true).unwrap();
        assert!(
            !run.join("model.safetensors").exists(),
            "the new run starts empty"
        );
        std::fs::write(run.join("config.toml"), "partial").unwrap();
        drop(forced);
        assert_eq!(
            std::fs::read(run.join("model.safetensors")).unwrap(),
            b"old"
        );
        assert!(!run.join("config.toml").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        // A failed fresh run with a resume state is kept for --resume.
        let other = dir.path().join("s");
        let resumable = create_run_dir(&other, false).unwrap();
        std::fs::create_dir_all(other.join("last")).unwrap();
        std::fs::write(other.join("last/training_state.json"), "{}").unwrap();
        drop(resumable);
        assert!(other.join("last/training_state.json").is_file());
    }

    #[test]
    fn interrupted_force_run_is_reported_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r");
        create_run_dir(&run, false).unwrap().commit().unwrap();
        let aside = dir.path().join(".r.replaced");
        std::fs::create_dir(&aside).unwrap();
        std::fs::write(aside.join("model.safetensors"), "older").unwrap();
        let err = create_run_dir(&run, true).unwrap_err().to_string();
        assert!(
            err.contains(".r.replaced") && err.contains("move it back"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(aside.join("model.safetensors")).unwrap(),
            b"older"
        );
        assert!(run.is_dir());
    }
}

#[cfg(test)]
mod default_tests {
    use super::*;

    /// `configs/<kind>.toml` (the embedded default) and the code's `Default` give the same job:
    /// a default is written in both places, and they must not drift apart.
    fn embedded_is_code_default<J: JobConfig + Default + PartialEq + std::fmt::Debug>() {
        let parsed: J = parse_default(&[]).unwrap();
        assert_eq!(
            parsed,
            J::default(),
            "configs/{}.toml and the code's Default differ",
            J::KIND
        );
    }

    #[test]
    fn every_embedded_default_is_the_code_default() {
        use crate::models::{autoencoder, dec, forecast, ncf, policy, propensity, vae};
        embedded_is_code_default::<autoencoder::AutoencoderJob>();
        embedded_is_code_default::<dec::DecJob>();
        embedded_is_code_default::<vae::VaeJob>();
        embedded_is_code_default::<ncf::NcfJob>();
        embedded_is_code_default::<propensity::PropensityJob>();
        embedded_is_code_default::<propensity::offers::OfferPropensityJob>();
        embedded_is_code_default::<forecast::ForecastJob>();
        embedded_is_code_default::<policy::PolicyJob>();
        embedded_is_code_default::<crate::pipeline::PipelineJob>();
    }
}
