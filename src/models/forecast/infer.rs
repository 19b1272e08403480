//! A forecast checkpoint loaded for `teleseg score`: next month's value of every series for
//! every customer of a history file.

use std::path::Path;

use perpetual::PerpetualBooster;
use perpetual::booster::config::BoosterIO;

use super::KIND;
use super::history::{Month, Panel};
use super::job::{ForecastArch, gbm_key};
use super::model::{SeriesModel, median_at};
use crate::checkpoint::{Checkpoint, CheckpointError, keys};

/// The trees of every series, ready to forecast.
#[derive(Clone)]
pub struct ForecastModel {
    pub arch: ForecastArch,
    pub models: Vec<SeriesModel>,
}

impl ForecastModel {
    /// Loads `model.safetensors` (or a run folder holding one) of kind `forecast`.
    pub fn load(path: &Path) -> Result<ForecastModel, CheckpointError> {
        let file = crate::checkpoint::RunDir::resolve_model_file(path)?;
        Self::from_checkpoint(&Checkpoint::read(&file, Some(KIND))?)
    }

    pub fn from_checkpoint(ck: &Checkpoint) -> Result<ForecastModel, CheckpointError> {
        let arch: ForecastArch = ck.meta_json(keys::MODEL)?;
        let models = arch
            .series
            .iter()
            .zip(&arch.inputs)
            .zip(&arch.offsets)
            .zip(&arch.floors)
            .map(|(((name, inputs), &offset), floor)| {
                let key = gbm_key(name);
                let booster = PerpetualBooster::from_json(ck.meta(&key)?).map_err(|e| {
                    CheckpointError::Metadata {
                        path: ck.path.clone(),
                        key: key.clone(),
                        message: e.to_string(),
                    }
                })?;
                Ok(SeriesModel {
                    series: name.clone(),
                    inputs: inputs.clone(),
                    booster,
                    offset,
                    floor: floor.unwrap_or(f64::NEG_INFINITY),
                })
            })
            .collect::<Result<_, CheckpointError>>()?;
        Ok(ForecastModel { arch, models })
    }

    /// Reads a history file with the model's id, month and series columns.
    pub fn read(&self, path: &Path) -> anyhow::Result<Panel> {
        Panel::read(
            path,
            &self.arch.id_column,
            &self.arch.month_column,
            &self.arch.series,
        )
    }

    /// The month after `panel`'s last and every series' forecast for it, per customer.
    pub fn forecast(&self, panel: &Panel) -> (Month, Vec<Vec<f64>>) {
        let t = panel.months;
        let forecasts = self
            .models
            .iter()
            .enumerate()
            .map(|(s, m)| m.forecast(panel, s, t, median_at(panel, s, t - 1)))
            .collect();
        (panel.last().next(), forecasts)
    }
}
