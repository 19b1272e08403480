//! The `teleseg` binary: parse the command line, set up logging, dispatch, map errors to exit
//! codes (0 success, 1 runtime failure, 2 bad usage or input). Everything else is in the library:
//! each verb's arguments are its `commands::<verb>` struct, each result prints itself.

mod cli;

use std::fmt::Display;
use std::process::ExitCode;

use clap::Parser;
use teleseg::commands::{self, Globals};
use teleseg::error::{EXIT_USAGE, exit_code};
use teleseg::progress::Progress;
use teleseg::{backend, models, report};

use cli::{Cli, Command, DataCommand, EvaluateCommand, Family, GlobalArgs};

/// mimalloc keeps freed tensor buffers for reuse where glibc malloc unmaps them and page-faults
/// them back in on the next step (docs/benchmarks.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    teleseg::logging::init(cli.global.verbose, cli.global.quiet);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(exit_code(&err) as u8)
        }
    }
}

fn globals(global: &GlobalArgs) -> anyhow::Result<Globals> {
    let backend = backend::resolve(global.backend)?;
    tracing::info!(backend = %backend.description, "backend");
    Ok(Globals {
        backend,
        progress: Progress::new(!global.quiet && !global.no_progress),
        seed: global.seed,
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { global, command } = cli;
    // What a verb prints on success (nothing with -q); reports and JSON always go to stdout.
    let say = |s: &dyn Display| {
        if !global.quiet {
            println!("{s}");
        }
    };
    let seed = global.seed.unwrap_or(42);
    match command {
        Command::Generate(mut a) => {
            a.seed = seed;
            say(&commands::generate::run(&a)?);
        }
        Command::Data {
            command: DataCommand::Check(mut a),
        } => {
            a.seed = seed;
            println!("{}", commands::data_check::run(&a)?);
        }
        Command::Train { family, args } => {
            let g = globals(&global)?;
            match family {
                Family::Autoencoder => say(&commands::train::train_autoencoder(&args, &g)?),
                Family::Dec => say(&commands::train::train_dec(&args, &g)?),
                Family::Vae => say(&commands::vae::train_vae(&args, &g)?),
                Family::Ncf => say(&commands::ncf::train_ncf(&args, &g)?),
                Family::Propensity => say(&commands::train::train_propensity(&args, &g)?),
                Family::Policy => say(&commands::train::train_policy(&args, &g)?),
                Family::OfferPropensity => {
                    say(&commands::train::train_offer_propensity(&args, &g)?)
                }
                Family::Forecast => say(&commands::train::train_forecast(&args, &g)?),
            }
        }
        Command::Embed(a) => {
            let rows = commands::embed::run(&a, &globals(&global)?.backend.device)?;
            say(&format!(
                "embedded {rows} customers into {}",
                a.output.display()
            ));
        }
        Command::Score(a) => {
            let g = globals(&global)?;
            say(&commands::score::run(&a, &g.backend.device, &g.progress)?);
        }
        Command::Serve(a) => commands::serve::run(&a, &globals(&global)?.backend.device)?,
        Command::Stream(a) => {
            let stats = commands::stream::run(&a, &globals(&global)?.backend.device)?;
            say(&serde_json::to_string(&stats)?);
        }
        Command::Evaluate { command } => match command {
            EvaluateCommand::Clustering { run, labels } => {
                print!("{}", models::dec::segments::evaluate(&run, &labels)?)
            }
            EvaluateCommand::Synthetic(mut a) => {
                a.seed = seed;
                print!("{}", commands::vae::run_evaluate_synthetic(&a)?.1);
            }
            EvaluateCommand::Policy(mut a) => {
                a.seed = seed;
                print!("{}", commands::policy::evaluate_policy(&a)?);
            }
            EvaluateCommand::Ncf { checkpoint, k } => {
                let g = globals(&global)?;
                print!("{}", commands::ncf::evaluate_ncf(&checkpoint, k, &g)?);
            }
        },
        Command::Sample(mut a) => {
            a.seed = seed;
            let n = commands::vae::run_sample(&a, &globals(&global)?.backend.device)?;
            say(&format!(
                "sampled {n} synthetic customers into {}",
                a.output.display()
            ));
        }
        Command::Simulate(mut a) => {
            a.seed = seed;
            print!("{}", commands::policy::simulate(&a)?);
        }
        Command::Inspect { run } => print!("{}", commands::inspect::run(&run)?),
        Command::Bench(mut a) => {
            a.seed = seed;
            let g = globals(&global)?;
            let r = commands::bench::run(&a, &g.backend.device, &g.backend.description)?;
            println!("{}", serde_json::to_string(&r)?);
        }
        Command::Report { run } => {
            println!("report: {}", report::write_report(&run)?.display());
        }
        Command::Pipeline(a) => {
            let g = globals(&global)?;
            let quiet = global.quiet;
            let on_stage = |s: &str| {
                if !quiet {
                    eprintln!("==> {s}");
                }
            };
            say(&commands::pipeline::run(&a, &g, &on_stage)?);
        }
    }
    Ok(())
}
