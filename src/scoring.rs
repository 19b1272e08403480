//! A pipeline run folder loaded for scoring: segments from `dec/`, offers from `ncf/`, churn
//! risk (or another propensity target) with its reasons from `propensity/`. One [`Decider`]
//! serves `teleseg score` (CSV rows), `teleseg serve` (JSON over HTTP) and `teleseg stream`
//! (decision events), so the three give the same answer for the same customer row.
//!
//! Offers: customers the NCF model was trained on are ranked by it; new customers by the mean
//! user vector of the segment just assigned to them (cold start, segments of the training
//! customers from `dec/segments.csv`), or by popularity when that segment has no known
//! customer. Offers in the accepted-offers file are never recommended.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::checkpoint::RunDir;
use crate::data::interactions::load_teleseg;
use crate::data::schema::Schema;
use crate::data::table::RawTable;
use crate::data::writer::csv_field;
use crate::drift::DriftReference;
use crate::models::autoencoder::RawInput;
use crate::models::dec::{SegmentModel, Segments};
use crate::models::ncf::infer::{ColdStart, NcfModel, RankedOffers, rank_customers};
use crate::models::policy::infer::{Contact, PolicyModel};
use crate::models::policy::linear::Policy;
use crate::models::propensity::offers::{OfferPropensityModel, OfferScores};
use crate::models::propensity::{PropensityModel, PropensityScores};

/// The NCF part of a pipeline bundle, ready to rank offers.
pub struct OfferRanker {
    pub model: NcfModel,
    cold: ColdStart,
    /// Accepted offers per customer id, as model item rows.
    held: HashMap<String, Vec<u32>>,
    pub k: usize,
}

impl OfferRanker {
    /// Loads `run/ncf` with the cold-start segments of `run/dec/segments.csv` (if present) and
    /// the accepted offers of `interactions` (if given).
    pub fn load(
        run: &Path,
        interactions: Option<&Path>,
        k: usize,
        device: &burn::tensor::Device,
    ) -> anyhow::Result<OfferRanker> {
        // Scoring takes each customer's features from the rows being scored, so the training
        // customers' features are not read.
        let model = NcfModel::load_without_features(&run.join("ncf"), device)?;
        let labels = run.join("dec/segments.csv");
        let segments = if labels.is_file() {
            crate::models::dec::segments::read_labels(&labels)?
        } else {
            HashMap::new()
        };
        let cold = ColdStart::fit(&model, &segments);
        let mut held: HashMap<String, Vec<u32>> = HashMap::new();
        if let Some(path) = interactions {
            let ix = load_teleseg(path, None)?;
            let item_row: HashMap<&str, u32> = model
                .items
                .iter()
                .enumerate()
                .map(|(j, id)| (id.as_str(), j as u32))
                .collect();
            for e in &ix.events {
                if let Some(&j) = item_row.get(ix.items[e.item as usize].as_str()) {
                    held.entry(ix.users[e.user as usize].clone())
                        .or_default()
                        .push(j);
                }
            }
        }
        Ok(OfferRanker {
            model,
            cold,
            held,
            k,
        })
    }

    /// Top offers `(item row, score)` and their source for each row of `table` (raw customer
    /// rows, read with the segment model's schema), the new customers through `segments[i]`
    /// (sources: [`rank_customers`]). A model with customer features takes them from the rows.
    pub fn rank(&self, table: &RawTable, segments: &[usize]) -> anyhow::Result<Vec<RankedOffers>> {
        let x = match &self.model.input {
            Some(input) => Some(input.rows_for(table, &table.ids)?),
            None => None,
        };
        let names: Vec<String> = segments.iter().map(usize::to_string).collect();
        let segs: Vec<&str> = names.iter().map(String::as_str).collect();
        let held: Vec<Vec<u32>> = table
            .ids
            .iter()
            .map(|id| self.held.get(id).cloned().unwrap_or_default())
            .collect();
        Ok(rank_customers(
            &self.model,
            &self.cold,
            &table.ids,
            &segs,
            x.as_ref().map(|x| x.data.as_slice()),
            &held,
            self.k,
        ))
    }
}

/// How a [`Decider`] is loaded.
#[derive(Debug, Clone)]
pub struct DeciderOptions {
    /// Offers per customer (at least 1).
    pub top_k: usize,
    /// Accepted offers (interactions.csv or .parquet) never recommended again.
    pub interactions: Option<PathBuf>,
    /// Reasons per customer of the propensity model (0: none, and no SHAP computed).
    pub reasons: usize,
    /// Rows per inference batch.
    pub batch_size: usize,
}

impl Default for DeciderOptions {
    fn default() -> Self {
        DeciderOptions {
            top_k: 10,
            interactions: None,
            reasons: 3,
            batch_size: 4096,
        }
    }
}

/// A pipeline run folder (or a lone `dec` run) loaded for scoring.
pub struct Decider {
    /// The folder (or model file) it was loaded from.
    pub path: PathBuf,
    pub segments: SegmentModel,
    pub offers: Option<OfferRanker>,
    pub propensity: Option<PropensityModel>,
    /// Offer take-up probabilities per category, from `offer_propensity/` when present.
    pub offer_propensity: Option<OfferPropensityModel>,
    /// The DEC training population (`dec/drift_reference.json`); `None` for a run from before
    /// drift references.
    pub drift: Option<DriftReference>,
    /// The contact policy (`policy/`): channel and time of the best offer.
    pub policy: Option<PolicyModel>,
    pub opts: DeciderOptions,
}

/// The scores of one batch of customer rows.
pub struct Decisions {
    pub segments: Segments,
    /// Per row, when the run has offers.
    pub offers: Option<Vec<RankedOffers>>,
    /// When the run has a propensity model.
    pub risk: Option<PropensityScores>,
    /// When the run has an offer-propensity model.
    pub take_up: Option<OfferScores>,
    /// The best offer's contact per row, when the run has offers and a contact policy.
    pub contacts: Option<Vec<Option<Contact>>>,
}

/// One customer's decision, as `teleseg serve` and `teleseg stream` write it (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Decision {
    pub customer_id: String,
    pub segment: usize,
    pub confidence: f32,
    /// Best offers first, with their scores (absent for a run without `ncf/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offers: Option<Vec<ScoredOffer>>,
    /// `model` (a customer NCF knows), `segment`, `features`, ... ([`rank_customers`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_source: Option<String>,
    /// The propensity target's output column (`churn_probability`) and value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// The probability of accepting an offer of each category when shown (a run with
    /// `offer_propensity/`), by category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_up: Option<std::collections::BTreeMap<String, f64>>,
    /// Through which channel and when to make the best offer (a run with `policy/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

/// One ranked offer.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ScoredOffer {
    pub offer_id: String,
    pub score: f32,
}

/// The propensity model's prediction for one customer.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Risk {
    /// The output column, `<target>_probability` or `<target>_prediction`.
    pub name: String,
    pub value: f64,
    /// The customer's lifetime value (a churn model with `propensity.lifetime_value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_value: Option<f64>,
    /// `feature=value (+0.412)`, largest |SHAP value| first.
    pub reasons: Vec<String>,
}

impl Decider {
    /// Loads `checkpoint`: a pipeline run folder (segments from `dec/`, offers from `ncf/` and
    /// the propensity model from `propensity/` when present), or a `dec` run folder or model file
    /// (segments only).
    pub fn load(
        checkpoint: &Path,
        opts: DeciderOptions,
        device: &burn::tensor::Device,
    ) -> anyhow::Result<Decider> {
        let pipeline = Self::is_pipeline(checkpoint);
        let dec_path = if pipeline {
            checkpoint.join("dec")
        } else {
            checkpoint.to_path_buf()
        };
        let segments = SegmentModel::load(&RunDir::resolve_model_file(&dec_path)?, device)?;
        let offers = if pipeline && checkpoint.join("ncf/model.safetensors").is_file() {
            Some(OfferRanker::load(
                checkpoint,
                opts.interactions.as_deref(),
                opts.top_k,
                device,
            )?)
        } else {
            if opts.interactions.is_some() {
                anyhow::bail!(crate::error::UsageError(format!(
                    "--interactions needs a checkpoint with offers (a pipeline run with ncf/); {} has none",
                    checkpoint.display()
                )));
            }
            None
        };
        let propensity = match pipeline && checkpoint.join("propensity/model.safetensors").is_file()
        {
            true => Some(PropensityModel::load(&checkpoint.join("propensity"))?),
            false => None,
        };
        let take_up = checkpoint.join("offer_propensity/model.safetensors");
        let offer_propensity = match pipeline && take_up.is_file() {
            true => Some(OfferPropensityModel::load(&take_up)?),
            false => None,
        };
        let dec_dir = if dec_path.is_dir() {
            dec_path.clone()
        } else {
            dec_path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let drift = DriftReference::read_beside(&dec_dir)?;
        let policy_file = checkpoint.join("policy/model.safetensors");
        let policy = match pipeline && policy_file.is_file() {
            true => Some(PolicyModel::load(&policy_file)?),
            false => None,
        };
        if drift.is_none() {
            tracing::warn!(
                dec = %dec_dir.display(),
                "no drift reference (a run from before them): drift is not measured"
            );
        }
        Ok(Decider {
            path: checkpoint.to_path_buf(),
            segments,
            drift,
            policy,
            offers,
            propensity,
            offer_propensity,
            opts,
        })
    }

    /// Whether `path` is a pipeline run folder (it has `dec/model.safetensors`).
    pub fn is_pipeline(path: &Path) -> bool {
        path.join("dec").join("model.safetensors").is_file()
    }

    /// The schema raw rows are read with.
    pub fn schema(&self) -> &Schema {
        self.segments.schema()
    }

    /// Scores every row of `table` (read with [`Self::schema`]).
    pub fn score(&self, table: &RawTable) -> anyhow::Result<Decisions> {
        self.score_parts(table, true)
    }

    /// What a decision's change depends on (segment, offers, churn probability), without the
    /// SHAP reasons and the take-up probabilities. The stream scores every touched customer this
    /// way and completes only the decisions it emits ([`Self::explain`]): SHAP and the take-up
    /// trees (one prediction per offer) were most of its cost.
    pub fn score_core(&self, table: &RawTable) -> anyhow::Result<Decisions> {
        self.score_parts(table, false)
    }

    /// [`Self::score`] (`full`) or [`Self::score_core`].
    fn score_parts(&self, table: &RawTable, full: bool) -> anyhow::Result<Decisions> {
        let reasons = if full { self.opts.reasons } else { 0 };
        let features = self.segments.features(table)?;
        let segments = self.segments.score(&features, self.opts.batch_size);
        let offers = match &self.offers {
            Some(ranker) => Some(ranker.rank(table, &segments.segment)?),
            None => None,
        };
        let risk = match &self.propensity {
            Some(p) => Some(p.score(table, reasons)?),
            None => None,
        };
        let take_up = match &self.offer_propensity {
            Some(m) if full => Some(m.score(table)?),
            _ => None,
        };
        let contacts = match (&self.policy, &offers) {
            (Some(p), Some(ranked)) if full => {
                let rows: Vec<usize> = (0..table.n_rows()).collect();
                Some(self.contacts(table, &rows, &self.best_offers(ranked), &p.policy)?)
            }
            _ => None,
        };
        Ok(Decisions {
            segments,
            offers,
            risk,
            take_up,
            contacts,
        })
    }

    /// The best offer of each ranked row (`None` where the ranking is empty).
    fn best_offers(&self, ranked: &[RankedOffers]) -> Vec<Option<String>> {
        let ranker = self
            .offers
            .as_ref()
            .expect("ranked offers come from the ranker");
        ranked
            .iter()
            .map(|(list, _)| {
                list.first()
                    .map(|&(j, _)| ranker.model.items[j as usize].clone())
            })
            .collect()
    }

    /// The contact `policy` (the run's own, or one the stream updated online from it) makes
    /// for `best[k]` to the customer of row `rows[k]` of `table`; `None` without an offer.
    /// Needs the run's contact policy (its preprocessing and arms).
    pub fn contacts(
        &self,
        table: &RawTable,
        rows: &[usize],
        best: &[Option<String>],
        policy: &Policy,
    ) -> anyhow::Result<Vec<Option<Contact>>> {
        let Some(model) = &self.policy else {
            return Ok(vec![None; rows.len()]);
        };
        let features = model.preprocessor.transform_rows(table, rows)?;
        let with_offer: Vec<usize> = (0..rows.len()).filter(|&k| best[k].is_some()).collect();
        let items: Vec<(&str, &[f32], &str)> = with_offer
            .iter()
            .map(|&k| {
                let offer = best[k].as_deref().expect("filtered");
                (table.ids[rows[k]].as_str(), features.row(k), offer)
            })
            .collect();
        let mut out = vec![None; rows.len()];
        for (k, c) in with_offer.into_iter().zip(model.contacts(policy, &items)) {
            out[k] = Some(c);
        }
        Ok(out)
    }

    /// Completes decisions made from [`Self::score_core`]: fills the configured number of SHAP
    /// reasons and the take-up probabilities into `decisions[k]` for each row `rows[k]` of
    /// `table` (the rows they were decided from).
    pub fn explain(
        &self,
        table: &RawTable,
        rows: &[usize],
        decisions: &mut [Decision],
    ) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let sub = table.take_rows(rows);
        if let Some(m) = &self.offer_propensity {
            let scores = m.score(&sub)?;
            for (k, d) in decisions.iter_mut().enumerate() {
                d.take_up = Some(m.category_map(&scores, k));
            }
        }
        let Some(p) = &self.propensity else {
            return Ok(());
        };
        if self.opts.reasons == 0 {
            return Ok(());
        }
        let scores = p.score(&sub, self.opts.reasons)?;
        for (k, d) in decisions.iter_mut().enumerate() {
            if let Some(risk) = d.risk.as_mut() {
                risk.reasons = p.reason_texts(&sub, &scores, k);
            }
        }
        Ok(())
    }

    /// The header of `scores.csv`: `customer_id,segment,confidence[,q..],z..` then
    /// `offers,offer_scores,offer_source` and the propensity model's columns when present.
    pub fn csv_header(&self, with_q: bool) -> Vec<u8> {
        let (k, latent) = (self.segments.head.k, self.segments.arch.latent);
        let mut header = scores_header(k, latent, with_q);
        if self.offers.is_some() {
            header.pop();
            header.extend_from_slice(b",offers,offer_scores,offer_source\n");
        }
        if let Some(p) = &self.propensity {
            header.pop();
            header.extend_from_slice(&p.header_fields(self.opts.reasons));
            header.push(b'\n');
        }
        if let Some(m) = &self.offer_propensity {
            header.pop();
            header.extend_from_slice(&m.category_header_fields());
            header.push(b'\n');
        }
        if self.policy.is_some() && self.offers.is_some() {
            header.pop();
            header
                .extend_from_slice(b",contact_arm,contact_probability,contact_expected_response\n");
        }
        header
    }

    /// The rows of [`Self::csv_header`] for `table` and its decisions.
    pub fn csv_rows(&self, out: &mut Vec<u8>, table: &RawTable, d: &Decisions, with_q: bool) {
        let (k, latent) = (self.segments.head.k, self.segments.arch.latent);
        if d.offers.is_none() && d.risk.is_none() && d.take_up.is_none() && d.contacts.is_none() {
            scores_rows(out, &table.ids, &d.segments, k, latent, with_q);
            return;
        }
        for i in 0..table.ids.len() {
            scores_rows(
                out,
                &table.ids[i..=i],
                &d.segments.slice(i),
                k,
                latent,
                with_q,
            );
            out.pop(); // the newline
            if let (Some(ranker), Some(ranked)) = (&self.offers, &d.offers) {
                let (list, source) = &ranked[i];
                let ids: Vec<&str> = list
                    .iter()
                    .map(|(j, _)| ranker.model.items[*j as usize].as_str())
                    .collect();
                let vals: Vec<String> = list.iter().map(|(_, v)| format!("{v:.6}")).collect();
                write!(out, ",{},{},{source}", ids.join(" "), vals.join(" ")).expect("vec write");
            }
            if let (Some(p), Some(risk)) = (&self.propensity, &d.risk) {
                p.fields(out, table, risk, i, self.opts.reasons);
            }
            if let (Some(m), Some(take_up)) = (&self.offer_propensity, &d.take_up) {
                m.category_fields(out, take_up, i);
            }
            if let Some(contacts) = &d.contacts {
                match &contacts[i] {
                    Some(c) => write!(
                        out,
                        ",{},{:.6},{:.6}",
                        csv_field(&c.arm),
                        c.probability,
                        c.expected_response
                    )
                    .expect("vec write"),
                    None => out.extend_from_slice(b",,,"),
                }
            }
            out.push(b'\n');
        }
    }

    /// One [`Decision`] per row of `table`.
    pub fn decisions(&self, table: &RawTable, d: &Decisions) -> Vec<Decision> {
        (0..table.ids.len())
            .map(|i| Decision {
                customer_id: table.ids[i].clone(),
                segment: d.segments.segment[i],
                confidence: d.segments.confidence[i],
                offers: match (&self.offers, &d.offers) {
                    (Some(ranker), Some(ranked)) => Some(
                        ranked[i]
                            .0
                            .iter()
                            .map(|&(j, score)| ScoredOffer {
                                offer_id: ranker.model.items[j as usize].clone(),
                                score,
                            })
                            .collect(),
                    ),
                    _ => None,
                },
                offer_source: d.offers.as_ref().map(|r| r[i].1.to_string()),
                risk: match (&self.propensity, &d.risk) {
                    (Some(p), Some(risk)) => Some(Risk {
                        name: p.model.arch.target.output_column(),
                        value: risk.value[i],
                        lifetime_value: risk.lifetime_value.as_ref().map(|v| v[i]),
                        reasons: p.reason_texts(table, risk, i),
                    }),
                    _ => None,
                },
                take_up: match (&self.offer_propensity, &d.take_up) {
                    (Some(m), Some(t)) => Some(m.category_map(t, i)),
                    _ => None,
                },
                contact: d.contacts.as_ref().and_then(|c| c[i].clone()),
            })
            .collect()
    }
}

/// `customer_id,segment,confidence[,q0..q{k-1}],z0..z{latent-1}` and a newline.
pub fn scores_header(k: usize, latent: usize, with_q: bool) -> Vec<u8> {
    let mut out = b"customer_id,segment,confidence".to_vec();
    if with_q {
        (0..k).for_each(|j| write!(out, ",q{j}").expect("vec write"));
    }
    (0..latent).for_each(|j| write!(out, ",z{j}").expect("vec write"));
    out.push(b'\n');
    out
}

/// One CSV row per id (the columns of [`scores_header`]), appended to `out`.
pub fn scores_rows(
    out: &mut Vec<u8>,
    ids: &[String],
    s: &Segments,
    k: usize,
    latent: usize,
    with_q: bool,
) {
    out.reserve(ids.len() * ((latent + k) * 11 + 24));
    for (i, id) in ids.iter().enumerate() {
        out.extend_from_slice(csv_field(id).as_bytes());
        write!(out, ",{},{}", s.segment[i], s.confidence[i]).expect("vec write");
        if with_q {
            for v in &s.q[i * k..(i + 1) * k] {
                write!(out, ",{v}").expect("vec write");
            }
        }
        for v in &s.z[i * latent..(i + 1) * latent] {
            write!(out, ",{v}").expect("vec write");
        }
        out.push(b'\n');
    }
}
