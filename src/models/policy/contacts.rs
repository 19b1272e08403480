//! Contact logs (`contacts.csv`: which customer was contacted about which offer through which
//! arm, with what logging probability, and whether they accepted), the offer catalogue that
//! gives each offer's category, and the known truth the generator writes beside them.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::logs::{CsvLog, LogError, propensity};

/// The columns a contact log must have.
pub const CONTACT_COLUMNS: [&str; 5] = ["customer_id", "offer_id", "arm", "propensity", "accepted"];

/// A contact log.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactLog {
    pub path: PathBuf,
    /// `contact_id` when the log has one (the key of the truth file).
    pub contact: Vec<Option<String>>,
    pub customer: Vec<String>,
    pub offer: Vec<String>,
    /// Index into `arms`.
    pub arm: Vec<usize>,
    /// The arm names, sorted (or the trained policy's arms when reading for it).
    pub arms: Vec<String>,
    pub propensity: Vec<f64>,
    pub reward: Vec<f64>,
}

impl ContactLog {
    pub fn rounds(&self) -> usize {
        self.reward.len()
    }
}

/// Parses an accept flag: `1/0`, `true/false`, `yes/no`, or any finite number (a reward).
fn reward(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "t" => Some(1.0),
        "false" | "no" | "n" | "f" => Some(0.0),
        t => t.parse().ok().filter(|r: &f64| r.is_finite()),
    }
}

/// Reads a contact log. With `known_arms` (a trained policy's), an arm outside them is an
/// error; without, the arms are the log's distinct values.
pub fn read_contacts(path: &Path, known_arms: Option<&[String]>) -> Result<ContactLog, LogError> {
    let mut csv = CsvLog::open(path, &CONTACT_COLUMNS, "contact")?;
    let index = csv.index.clone();
    let contact_column = csv.column("contact_id");
    let mut names: Vec<String> = Vec::new();
    let mut log = ContactLog {
        path: path.to_path_buf(),
        contact: Vec::new(),
        customer: Vec::new(),
        offer: Vec::new(),
        arm: Vec::new(),
        arms: Vec::new(),
        propensity: Vec::new(),
        reward: Vec::new(),
    };
    let mut record = csv::StringRecord::new();
    while csv.next(&mut record)? {
        let cell = |j: usize| record.get(index[j]).unwrap_or("").trim();
        let rule = |j: usize, rule: &str| csv.rule(&record, CONTACT_COLUMNS[j], rule);
        for j in 0..3 {
            if cell(j).is_empty() {
                return Err(rule(j, "is empty"));
            }
        }
        if let Some(arms) = known_arms
            && !arms.iter().any(|a| a == cell(2))
        {
            return Err(rule(
                2,
                &format!("is not one of the {} arms the policy knows", arms.len()),
            ));
        }
        let p = propensity(&csv, &record, CONTACT_COLUMNS[3], cell(3))?;
        let r = reward(cell(4))
            .ok_or_else(|| rule(4, "is not a response (1/0, true/false, yes/no or a number)"))?;
        log.contact.push(
            contact_column
                .and_then(|c| record.get(c))
                .map(|s| s.trim().to_string()),
        );
        log.customer.push(cell(0).to_string());
        log.offer.push(cell(1).to_string());
        names.push(cell(2).to_string());
        log.propensity.push(p);
        log.reward.push(r);
    }
    if log.reward.is_empty() {
        return Err(LogError::Empty {
            path: path.to_path_buf(),
        });
    }
    log.arms = match known_arms {
        Some(arms) => arms.to_vec(),
        None => names
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let position: HashMap<&str, usize> = log
        .arms
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i))
        .collect();
    log.arm = names.iter().map(|n| position[n.as_str()]).collect();
    Ok(log)
}

/// Reads `offer_id → category` from an offer catalogue (`offer_id, category`).
pub fn read_offer_categories(path: &Path) -> Result<HashMap<String, String>, LogError> {
    let mut csv = CsvLog::open(path, &["offer_id", "category"], "offer catalogue")?;
    let index = csv.index.clone();
    let mut out = HashMap::new();
    let mut record = csv::StringRecord::new();
    while csv.next(&mut record)? {
        let id = record.get(index[0]).unwrap_or("").trim().to_string();
        let category = record.get(index[1]).unwrap_or("").trim().to_string();
        if id.is_empty() {
            return Err(csv.rule(&record, "offer_id", "is empty"));
        }
        out.insert(id, category);
    }
    Ok(out)
}

/// The generator's `contacts_truth.csv`: each contact's true acceptance probability under
/// every arm, as `[rounds, arms]` in `log`'s order; None for a log without contact ids.
pub fn read_truth(path: &Path, log: &ContactLog) -> Result<Option<Vec<f64>>, LogError> {
    if log.contact.iter().any(Option::is_none) {
        return Ok(None);
    }
    let arm_names: Vec<&str> = log.arms.iter().map(String::as_str).collect();
    let mut required = vec!["contact_id"];
    required.extend(&arm_names);
    let mut csv = CsvLog::open(path, &required, "contact truth")?;
    let index = csv.index.clone();
    let mut by_contact: HashMap<String, Vec<f64>> = HashMap::new();
    let mut record = csv::StringRecord::new();
    while csv.next(&mut record)? {
        let id = record.get(index[0]).unwrap_or("").trim().to_string();
        let mut probs = Vec::with_capacity(arm_names.len());
        for (k, name) in arm_names.iter().enumerate() {
            let text = record.get(index[k + 1]).unwrap_or("").trim();
            let p: f64 = text
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| csv.rule(&record, name, "is not a probability in [0, 1]"))?;
            probs.push(p);
        }
        by_contact.insert(id, probs);
    }
    let k = log.arms.len();
    let mut out = Vec::with_capacity(log.rounds() * k);
    for id in log.contact.iter().flatten() {
        match by_contact.get(id) {
            Some(p) => out.extend_from_slice(p),
            None => {
                return Err(LogError::Rule {
                    path: path.to_path_buf(),
                    line: 0,
                    column: "contact_id".into(),
                    value: id.clone(),
                    rule: format!("is in {} but has no row here", log.path.display()),
                });
            }
        }
    }
    Ok(Some(out))
}

/// How a contact becomes a context vector: `[1, the customer's preprocessed features, one-hot
/// offer category]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContextLayout {
    /// Names of the customer features (the preprocessing's output order).
    pub customer_features: Vec<String>,
    /// Offer categories, sorted; an offer of another category gets none of them.
    pub categories: Vec<String>,
}

impl ContextLayout {
    pub fn dim(&self) -> usize {
        1 + self.customer_features.len() + self.categories.len()
    }

    /// Names of the context entries, in order.
    pub fn names(&self) -> Vec<String> {
        let mut names = vec!["bias".to_string()];
        names.extend(self.customer_features.iter().cloned());
        names.extend(
            self.categories
                .iter()
                .map(|c| format!("offer_category={c}")),
        );
        names
    }

    /// The context of a customer with features `customer` contacted about an offer of
    /// `category`.
    pub fn context(&self, customer: &[f32], category: Option<&str>) -> Vec<f64> {
        let mut x = Vec::with_capacity(self.dim());
        x.push(1.0);
        x.extend(customer.iter().map(|&v| f64::from(v)));
        x.extend(
            self.categories
                .iter()
                .map(|c| f64::from(u8::from(Some(c.as_str()) == category))),
        );
        x
    }
}

/// Where a file "beside the customers" is.
pub fn beside(customers: &Path, name: &str) -> PathBuf {
    customers
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(name)
}

/// The files a contact log is read with.
pub struct ContactFiles<'a> {
    pub customers: &'a Path,
    pub contacts: &'a Path,
    pub offers: &'a Path,
}

/// A contact log with the context of every contact.
pub struct ContactData {
    pub log: ContactLog,
    pub contexts: Vec<Vec<f64>>,
    /// The customer table row of every contact.
    pub rows: Vec<usize>,
    pub layout: ContextLayout,
    /// `contacts_truth.csv` beside the log, aligned to it, when there is one.
    pub truth: Option<Vec<f64>>,
    /// The catalogue's offer → category.
    pub categories: HashMap<String, String>,
}

/// Reads the contact log, the offer catalogue and (when beside the log) the truth file, and
/// builds every contact's context from the customer features (`ids` and `features` in table
/// order, `names` the features' names).
pub fn load_contacts(
    files: &ContactFiles,
    ids: &[String],
    features: &crate::data::preprocess::Features,
    names: Vec<String>,
) -> anyhow::Result<ContactData> {
    let log = read_contacts(files.contacts, None)?;
    let categories = read_offer_categories(files.offers)?;
    let truth_path = beside(files.contacts, "contacts_truth.csv");
    let truth = if truth_path.is_file() {
        read_truth(&truth_path, &log)?
    } else {
        None
    };
    let row_of: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut sorted_categories: Vec<String> = categories.values().cloned().collect();
    sorted_categories.sort();
    sorted_categories.dedup();
    let layout = ContextLayout {
        customer_features: names,
        categories: sorted_categories,
    };
    let mut contexts = Vec::with_capacity(log.rounds());
    let mut rows = Vec::with_capacity(log.rounds());
    for i in 0..log.rounds() {
        let Some(&row) = row_of.get(log.customer[i].as_str()) else {
            anyhow::bail!(crate::error::UsageError(format!(
                "{}: contact {} names customer {:?}, who is not in {}",
                files.contacts.display(),
                i + 1,
                log.customer[i],
                files.customers.display()
            )));
        };
        let Some(category) = categories.get(&log.offer[i]) else {
            anyhow::bail!(crate::error::UsageError(format!(
                "{}: contact {} names offer {:?}, which is not in {}",
                files.contacts.display(),
                i + 1,
                log.offer[i],
                files.offers.display()
            )));
        };
        contexts.push(layout.context(features.row(row), Some(category)));
        rows.push(row);
    }
    Ok(ContactData {
        log,
        contexts,
        rows,
        layout,
        truth,
        categories,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const HEADER: &str = "contact_id,customer_id,offer_id,arm,propensity,accepted\n";

    #[test]
    fn reads_contacts_with_sorted_arms() {
        let (_d, p) = write(
            "contacts.csv",
            &format!("{HEADER}1,C1,O1,sms@a,0.5,1\n2,C2,O2,email@b,0.25,no\n"),
        );
        let log = read_contacts(&p, None).unwrap();
        assert_eq!(log.arms, vec!["email@b", "sms@a"]);
        assert_eq!(log.arm, vec![1, 0]);
        assert_eq!(log.reward, vec![1.0, 0.0]);
        assert_eq!(log.contact[1].as_deref(), Some("2"));
    }

    #[test]
    fn bad_contacts_name_file_line_column_and_rule() {
        let cases = [
            (
                "1,C1,O1,sms,0,1\n",
                "line 2, column `propensity`: \"0\" is not a probability",
            ),
            (
                "1,C1,O1,sms,,1\n",
                "is missing: every round needs the logging propensity",
            ),
            (
                "1,C1,O1,sms,0.5,maybe\n",
                "column `accepted`: \"maybe\" is not a response",
            ),
            ("1,,O1,sms,0.5,1\n", "column `customer_id`: \"\" is empty"),
            ("", "holds no rounds"),
        ];
        for (rows, expect) in cases {
            let (_d, p) = write("contacts.csv", &format!("{HEADER}{rows}"));
            let msg = read_contacts(&p, None).unwrap_err().to_string();
            assert!(
                msg.contains("contacts.csv") && msg.contains(expect),
                "{msg}"
            );
        }
        let (_d, p) = write("contacts.csv", &format!("{HEADER}1,C1,O1,fax,0.5,1\n"));
        let known = vec!["sms".to_string()];
        let msg = read_contacts(&p, Some(&known)).unwrap_err().to_string();
        assert!(msg.contains("\"fax\" is not one of the 1 arms"), "{msg}");
        let (_d, p) = write(
            "contacts.csv",
            "customer_id,offer_id,arm,accepted\nC1,O1,sms,1\n",
        );
        let msg = read_contacts(&p, None).unwrap_err().to_string();
        assert!(msg.contains("no column `propensity`"), "{msg}");
    }

    #[test]
    fn truth_is_aligned_to_the_log() {
        let (d, p) = write(
            "contacts.csv",
            &format!("{HEADER}1,C1,O1,b,0.5,1\n2,C2,O2,a,0.5,0\n"),
        );
        let truth = d.path().join("truth.csv");
        std::fs::write(&truth, "contact_id,b,a\n2,0.1,0.2\n1,0.3,0.4\n").unwrap();
        let log = read_contacts(&p, None).unwrap();
        // Arms sorted: a, b. Contact 1: a 0.4, b 0.3; contact 2: a 0.2, b 0.1.
        assert_eq!(
            read_truth(&truth, &log).unwrap(),
            Some(vec![0.4, 0.3, 0.2, 0.1])
        );
    }
}
