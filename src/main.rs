//! The `teleseg` binary: parse the command line, set up logging, dispatch, map errors to exit
//! codes (0 success, 1 runtime failure, 2 bad usage or input). Everything else is in the library.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use teleseg::backend;
use teleseg::commands::{self, Globals};
use teleseg::config::ncf::EmbeddingUpdates;
use teleseg::error::{EXIT_USAGE, exit_code};
use teleseg::progress::Progress;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, DataCommand, Family};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
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

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,teleseg=info",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .compact()
        .init();
}

fn globals(cli: &Cli) -> anyhow::Result<Globals> {
    let backend = backend::resolve(cli.global.backend)?;
    tracing::info!(backend = %backend.description, "backend");
    Ok(Globals {
        backend,
        progress: Progress::new(!cli.global.quiet && !cli.global.no_progress),
        seed: cli.global.seed,
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let quiet = cli.global.quiet;
    match &cli.command {
        Command::Generate {
            customers,
            offers,
            out,
            force,
            persona_spread,
            format,
        } => {
            let args = commands::generate::GenerateArgs {
                customers: *customers,
                seed: cli.global.seed.unwrap_or(42),
                offers: *offers,
                out: out.clone(),
                force: *force,
                persona_spread: *persona_spread,
                format: *format,
            };
            let s = commands::generate::run(&args)?;
            if !quiet {
                println!(
                    "wrote {} customers, {} offers, {} interactions ({} personas) to {}",
                    s.customers,
                    s.offers,
                    s.interactions,
                    s.personas.len(),
                    out.display()
                );
            }
        }
        Command::Data {
            command:
                DataCommand::Check {
                    schema,
                    input,
                    on_bad_row,
                },
        } => {
            let args = commands::data_check::DataCheckArgs {
                schema: schema.clone(),
                input: input.clone(),
                on_bad_row: (*on_bad_row).into(),
                seed: cli.global.seed.unwrap_or(42),
            };
            println!("{}", commands::data_check::run(&args)?);
        }
        Command::Train {
            family,
            config,
            overrides,
            resume,
            force,
        } => {
            let g = globals(&cli)?;
            let args = commands::train::TrainArgs {
                config: config.clone(),
                overrides: overrides.clone(),
                resume: resume.clone(),
                force: *force,
            };
            match family {
                Family::Autoencoder => {
                    let r = commands::train::train_autoencoder(&args, &g)?;
                    if !quiet {
                        println!(
                            "trained autoencoder: best validation loss {:.5} at epoch {} ({} epochs, {:?}, {:.0} samples/s)\nrun: {}",
                            r.best_valid_loss,
                            r.best_epoch,
                            r.epochs_run,
                            r.stop,
                            r.samples_per_s,
                            r.run.display()
                        );
                    }
                }
                Family::Vae => {
                    let r = commands::vae::train_vae(&args, &g)?;
                    if !quiet {
                        println!(
                            "trained vae: best validation loss {:.4} at epoch {} ({} epochs, {:?}, {:.0} samples/s, {:.1}s)\n{}run: {}",
                            r.best_valid_loss,
                            r.best_epoch,
                            r.epochs_run,
                            r.stop,
                            r.samples_per_s,
                            r.train_wall_s,
                            commands::vae::summary(
                                &r.quality.vae,
                                Some(&r.quality.independent_marginals)
                            ),
                            r.run.display()
                        );
                        if let Some(a) = r.quality.conditional_accuracy {
                            println!("conditional samples assigned to their segment: {a:.3}");
                        }
                    }
                }
                Family::Ncf => {
                    let r = commands::ncf::train_ncf(&args, &g)?;
                    if !quiet {
                        println!(
                            "trained ncf ({:?}): {} users, {} items, {} training positives; best validation loss {:.5} at epoch {} ({} epochs, {:?}, {:.0} samples/s, {:.1}s)\n{}run: {}",
                            r.kind,
                            r.users,
                            r.items,
                            r.train_positives,
                            r.best_valid_loss,
                            r.best_epoch,
                            r.epochs_run,
                            r.stop,
                            r.samples_per_s,
                            r.train_wall_s,
                            r.evaluation,
                            r.run.display()
                        );
                    }
                }
                Family::Dec => {
                    let r = commands::train::train_dec(&args, &g)?;
                    if !quiet {
                        println!(
                            "trained dec: {} refreshes, {:?}, segment sizes {:?}{}, {:.0} samples/s\nrun: {}",
                            r.refreshes.len(),
                            r.stop,
                            r.collapse.sizes,
                            if r.collapse.collapsed {
                                " (COLLAPSED)"
                            } else {
                                ""
                            },
                            r.samples_per_s,
                            r.run.display()
                        );
                    }
                }
            }
        }
        Command::Embed {
            checkpoint,
            input,
            output,
            batch_size,
            on_bad_row,
            force,
        } => {
            let g = globals(&cli)?;
            let args = commands::embed::EmbedArgs {
                checkpoint: checkpoint.clone(),
                input: input.clone(),
                output: output.clone(),
                batch_size: (*batch_size).max(1),
                on_bad_row: (*on_bad_row).into(),
                force: *force,
            };
            let rows = commands::embed::run(&args, &g.backend.device)?;
            if !quiet {
                println!("embedded {rows} customers into {}", output.display());
            }
        }
        Command::Score {
            checkpoint,
            input,
            output,
            with_q,
            batch_size,
            chunk_rows,
            top_k,
            interactions,
            on_bad_row,
            force,
        } => {
            let g = globals(&cli)?;
            let args = commands::score::ScoreArgs {
                checkpoint: checkpoint.clone(),
                input: input.clone(),
                output: output.clone(),
                with_q: *with_q,
                batch_size: (*batch_size).max(1),
                chunk_rows: (*chunk_rows).max(1),
                top_k: (*top_k).max(1),
                interactions: interactions.clone(),
                on_bad_row: (*on_bad_row).into(),
                force: *force,
            };
            let s = commands::score::run(&args, &g.backend.device, &g.progress)?;
            if !quiet {
                println!(
                    "scored {} customers into {} ({:.0} rows/s{})",
                    s.rows,
                    output.display(),
                    s.rows_per_s,
                    if s.skipped > 0 {
                        format!(", {} bad rows skipped", s.skipped)
                    } else {
                        String::new()
                    }
                );
            }
        }
        Command::Evaluate {
            command: cli::EvaluateCommand::Clustering { run, labels },
        } => print!("{}", commands::segments::evaluate(run, labels)?),
        Command::Evaluate {
            command:
                cli::EvaluateCommand::Synthetic {
                    real,
                    synthetic,
                    schema,
                    train,
                    output,
                    dcr_rows,
                },
        } => {
            let args = commands::vae::EvalSyntheticArgs {
                real: real.clone(),
                synthetic: synthetic.clone(),
                schema: schema.clone(),
                train: train.clone(),
                output: output.clone(),
                dcr_rows: *dcr_rows,
                seed: cli.global.seed.unwrap_or(42),
            };
            print!("{}", commands::vae::run_evaluate_synthetic(&args)?.1);
        }
        Command::Sample {
            checkpoint,
            rows,
            segment,
            fill_missing,
            output,
            force,
        } => {
            let g = globals(&cli)?;
            let args = commands::vae::SampleArgs {
                checkpoint: checkpoint.clone(),
                rows: *rows,
                segment: segment.clone(),
                seed: cli.global.seed.unwrap_or(42),
                output: output.clone(),
                fill_missing: *fill_missing,
                force: *force,
            };
            let n = commands::vae::run_sample(&args, &g.backend.device)?;
            if !quiet {
                println!("sampled {n} synthetic customers into {}", output.display());
            }
        }
        Command::Evaluate {
            command: cli::EvaluateCommand::Ncf { checkpoint, k },
        } => {
            let g = globals(&cli)?;
            print!("{}", commands::ncf::evaluate_ncf(checkpoint, *k, &g)?);
        }
        Command::Inspect { run } => print!("{}", commands::inspect::run(run)?),
        Command::Bench {
            model,
            rows,
            input,
            hidden,
            latent,
            k,
            batch_size,
            steps,
            warmup,
            users,
            items,
            factors,
            mlp,
            negatives,
            top,
            dense_embeddings,
        } => {
            let g = globals(&cli)?;
            let args = commands::bench::BenchArgs {
                model: *model,
                rows: *rows,
                input: *input,
                hidden: hidden.clone(),
                latent: *latent,
                k: *k,
                batch_size: *batch_size,
                steps: *steps,
                warmup: *warmup,
                seed: cli.global.seed.unwrap_or(42),
                users: *users,
                items: *items,
                factors: *factors,
                mlp: mlp.clone(),
                negatives: *negatives,
                top: *top,
                embedding_updates: if *dense_embeddings {
                    EmbeddingUpdates::Dense
                } else {
                    EmbeddingUpdates::Sparse
                },
            };
            let r = commands::bench::run(&args, &g.backend.device, &g.backend.description)?;
            println!("{}", serde_json::to_string(&r)?);
        }
        Command::Report { run } => {
            let path = teleseg::report::write_report(run)?;
            println!("report: {}", path.display());
        }
        Command::Pipeline {
            config,
            overrides,
            force,
        } => {
            let g = globals(&cli)?;
            let args = commands::pipeline::PipelineArgs {
                config: config.clone(),
                overrides: overrides.clone(),
                force: *force,
            };
            let on_stage = |s: &str| {
                if !quiet {
                    eprintln!("==> {s}");
                }
            };
            let r = commands::pipeline::run(&args, &g, &on_stage)?;
            if !quiet {
                println!("{}", r.autoencoder.data_summary);
                println!(
                    "pipeline done in {:.1}s ({} customers, backend {})",
                    r.stages.iter().map(|s| s.1).sum::<f64>(),
                    r.customers,
                    g.backend.description
                );
                for (stage, secs) in &r.stages {
                    println!("  {stage:<12} {secs:>7.1}s");
                }
                println!(
                    "  autoencoder: best validation loss {:.5} at epoch {} ({:.0} samples/s)",
                    r.autoencoder.best_valid_loss,
                    r.autoencoder.best_epoch,
                    r.autoencoder.samples_per_s
                );
                println!("run folder:  {}", r.run.display());
                println!(
                    "checkpoint:  {}",
                    r.run.join("autoencoder/model.safetensors").display()
                );
                println!("embeddings:  {}", r.embeddings.display());
                if let (Some(n), Some(rec)) = (&r.ncf, &r.recommendations) {
                    let (m, p) = (
                        &n.evaluation.model_metrics.full,
                        &n.evaluation.popularity.full,
                    );
                    println!(
                        "offers:      {} (ncf {:?}{}: full-ranking HR@{} {:.4} vs popularity {:.4})",
                        rec.display(),
                        n.kind,
                        match n.evaluation.user_features {
                            0 => String::new(),
                            f => format!(" + {f} customer features"),
                        },
                        n.evaluation.k,
                        m.hr,
                        p.hr
                    );
                }
                println!(
                    "segments:    {} (sizes {:?}{})",
                    r.segments.display(),
                    r.segment_sizes,
                    if r.collapsed { ", COLLAPSED" } else { "" }
                );
                if let Some(v) = &r.vae {
                    print!(
                        "synthetic:   {}\n{}",
                        v.run.join("synthetic.csv").display(),
                        commands::vae::summary(
                            &v.quality.vae,
                            Some(&v.quality.independent_marginals)
                        )
                    );
                    if let Some(a) = v.quality.conditional_accuracy {
                        println!("conditional samples assigned to their segment: {a:.3}");
                    }
                }
                println!(
                    "scores:      {} ({:.0} customers/s)",
                    r.scores.display(),
                    r.score_rows_per_s
                );
                println!("report:      {}", r.report.display());
            }
        }
    }
    Ok(())
}
